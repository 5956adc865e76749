// Interrupt delivery: the 16 IRQ lines, their handlers and locks, raise(), and the delivery loop
// every level drop runs through (detail::deliver_pending).
//
// How a raise travels. raise(n, cpu) sets line n's bit in the target's `pending` word (one RMW,
// any thread) and then either delivers on the spot (the calling CPU, below the line's level) or
// signals the target's thread, only when it set the bit itself (a raise that finds the bit set
// merges into the delivery the first one arranged). On the target, whichever comes first, its
// signal handler or a release that drops its level, runs the delivery loop; the loop takes the
// highest pending line above the CPU's level, acquires the line's Lock (which raises the level to
// the line's, so this CPU can no longer start the same or a lower line), clears the bit with an
// RMW, runs the handlers, and releases. The release drops the level back and the loop looks
// again. Lines at or below the level stay pending: the release that finally drops below them
// delivers them. Ordinary code never masks the signal: the level is the mask. (Only the signal's
// own handler runs with it blocked, opening it around handlers: SignalWindow.)
#include <algorithm>
#include <csignal>

#include "irq_internal.hpp"
#include "platform/platform.hpp"
#include "smplock/irq.hpp"

namespace smplock {
namespace detail {
namespace {

// One Lock per line, in static storage (constant-initialised: usable before main and from any
// signal handler) and never destroyed: another thread may be running a line's handler, the line's
// lock held, while the program returns from main and runs static destructors. A Lock's destructor
// checks R7 (destroying a held lock), which is the program's rule for its own locks; the library's
// locks simply live as long as the process.
union LineLocks {
  Lock locks[kIrqLines];
  constexpr LineLocks()
      : locks{{irq_level(0), "IRQ 0"},   {irq_level(1), "IRQ 1"},   {irq_level(2), "IRQ 2"},
              {irq_level(3), "IRQ 3"},   {irq_level(4), "IRQ 4"},   {irq_level(5), "IRQ 5"},
              {irq_level(6), "IRQ 6"},   {irq_level(7), "IRQ 7"},   {irq_level(8), "IRQ 8"},
              {irq_level(9), "IRQ 9"},   {irq_level(10), "IRQ 10"}, {irq_level(11), "IRQ 11"},
              {irq_level(12), "IRQ 12"}, {irq_level(13), "IRQ 13"}, {irq_level(14), "IRQ 14"},
              {irq_level(15), "IRQ 15"}} {}
  ~LineLocks() {}  // deliberately leaves the locks alone
};
constinit LineLocks g_lines;
Lock* const g_line_locks = g_lines.locks;

// A line's handlers. Changed and read only with the line's lock held, so the lock orders them;
// the fields are atomics (relaxed) only because a handler may attach or detach on its own line
// while the dispatch loop walks the table.
struct HandlerTable {
  std::atomic<irq::Handler> fn[irq::kMaxHandlers]{};
  std::atomic<void*> arg[irq::kMaxHandlers]{};
};
HandlerTable g_handlers[kIrqLines];

// A line's counters, shared by all CPUs: relaxed RMWs on the raise and delivery paths (never on
// a level change).
struct alignas(64) LineCounters {
  std::atomic<std::uint64_t> raised{0}, merged{0}, delivered{0}, deferred{0};
  std::atomic<std::uint64_t> delay_ns{0}, max_delay_ns{0}, latency_ns{0}, max_latency_ns{0};
};
LineCounters g_line_counters[kIrqLines];

// Pending bit (level offset) -> line number.
constexpr unsigned line_of_bit(unsigned bit) {
  return static_cast<unsigned>(irq_of_level(static_cast<Level>(kIrqLevelLow + bit)));
}

void check_line(unsigned n, const char* who) {
  if (n >= kIrqLines) [[unlikely]]
    violation(Rule::Fatal, who, nullptr, this_cpu_if_attached(), {}, "line", static_cast<int>(n));
}

// Pending IRQ bits held back at `level`: every line whose level is at or below it.
constexpr std::uint32_t held_back_mask(std::uint8_t level) {
  if (level < kIrqLevelLow) return 0;
  if (level >= kIrqLevelHigh) return kPendingIrqMask;
  return (2u << (level - kIrqLevelLow)) - 1;
}

// Records lines seen pending while the level held them back, and the lock at the top that did
// it (first sighting wins: that lock's class is credited with the whole delay). Runs on the
// owning CPU or its signal handler.
void note_deferred(CpuRecord& cpu, std::uint32_t bits) {
  const std::uint32_t fresh = bits & ~cpu.irq.deferred.load(std::memory_order_relaxed);
  if (fresh == 0) return;
  const std::uint8_t level = cpu.level.load(std::memory_order_relaxed);
  const Lock* top = cpu.held[level].lock();
  const std::uint16_t id = top != nullptr ? top->class_id() : 0;
  for (std::uint32_t b = fresh; b != 0; b &= b - 1)
    cpu.irq.blocker[__builtin_ctz(b)].store(id, std::memory_order_relaxed);
  // Relaxed: only this CPU (and its signal handler, ordered by signal fences) reads it.
  cpu.irq.deferred.fetch_or(fresh, std::memory_order_relaxed);
}

// The counters of one delivery of the line at `bit`, taken as its handlers are about to start.
void count_delivery(CpuRecord& cpu, unsigned bit, unsigned n) {
  LineCounters& c = g_line_counters[n];
  constexpr auto r = std::memory_order_relaxed;
  c.delivered.fetch_add(1, r);
  // raised -> consumed. Relaxed: the time is a statistic, ordered by nothing else.
  const std::uint64_t raised = cpu.irq.raised_ns[bit].exchange(0, r);
  const bool deferred = (cpu.irq.deferred.fetch_and(~(1u << bit), r) & (1u << bit)) != 0;
  if (raised == 0 && !deferred) return;
  const std::uint64_t now = platform::now_ns();
  const std::uint64_t waited = raised != 0 && now > raised ? now - raised : 0;
  if (raised != 0) {
    c.latency_ns.fetch_add(waited, r);
    atomic_max(c.max_latency_ns, waited);
  }
  if (!deferred) return;
  c.deferred.fetch_add(1, r);
  c.delay_ns.fetch_add(waited, r);
  atomic_max(c.max_delay_ns, waited);
  if (const std::uint16_t id = cpu.irq.blocker[bit].load(r); id != 0) {
    g_classes[id].irq_deferred.fetch_add(1, r);
    g_classes[id].irq_delay_ns.fetch_add(waited, r);
  }
}

// Delivers the line at pending bit `bit` on `cpu`, whose level is below the line's.
void dispatch_line(CpuRecord& cpu, unsigned bit) {
  const unsigned n = line_of_bit(bit);
  Lock& lock = g_line_locks[n];
  // Raise to the line's level and take its lock: from here neither this CPU's signal handler nor
  // its release paths will start this line or a lower one. May wait while another CPU holds the
  // line (it is locked out or running its handlers there).
  const Level previous = lock.acquire();
  const std::uint32_t mask = 1u << bit;
  // pending -> not pending, before the handlers run: a raise during them sets the bit again and
  // makes a new delivery. Acquire pairs with the raiser's release, so the handlers see what the
  // raiser wrote before raising. (The bit may be gone: a signal handler that ran between the
  // caller's look at `pending` and our acquire delivered it already.)
  if ((cpu.pending.fetch_and(~mask, std::memory_order_acq_rel) & mask) != 0) {
    count_delivery(cpu, bit, n);
    SignalWindow window(cpu);  // at the line's level now: only a higher line can nest
    HandlerTable& t = g_handlers[n];
    for (unsigned i = 0; i < irq::kMaxHandlers; ++i) {
      const irq::Handler fn = t.fn[i].load(std::memory_order_relaxed);
      if (fn == nullptr) continue;
      fn(t.arg[i].load(std::memory_order_relaxed));
      if (cpu.level.load(std::memory_order_relaxed) != to_int(lock.level())) [[unlikely]]
        violation(Rule::Fatal, "an IRQ handler returned at another level (holding a lock it took?)", &lock, &cpu,
                  {});
    }
  }
  lock.release(previous);
}

}  // namespace

std::atomic<int> g_irq_signal{0};  // 0: the default (SIGURG), see irq::signal_number()

void deliver_loop(CpuRecord& cpu, bool own_loop) {
  const std::uint8_t base = cpu.level.load(std::memory_order_relaxed);
  const std::uint16_t outer = cpu.irq.loop_base.load(std::memory_order_relaxed);
  // A release inside a loop's own dispatch (or routine) back to the loop's level: the loop reads
  // `pending` again as soon as we return, so there is nothing to do here. This is what keeps the
  // stack flat however many interrupts arrive while we deliver.
  if (!own_loop && outer == base + 1u) return;
  // Relaxed + signal fence: only this CPU and its signal handler read the marker.
  cpu.irq.loop_base.store(static_cast<std::uint16_t>(base + 1u), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  for (;;) {
    // Acquire: pairs with the release of whoever set a bit (raise, request, call).
    const std::uint32_t pending = cpu.pending.load(std::memory_order_acquire);
    const std::uint8_t level = cpu.level.load(std::memory_order_relaxed);
    if (const std::uint32_t irqs = pending & kPendingIrqMask; irqs != 0) {
      const unsigned top = 31u - static_cast<unsigned>(__builtin_clz(irqs));
      if (kIrqLevelLow + top > level) {
        dispatch_line(cpu, top);
        continue;
      }
      note_deferred(cpu, irqs & held_back_mask(level));
    }
    if (level == to_int(Level::Null) && (pending & (kPendingSoftint | kPendingLowipl)) != 0) {
      run_software(cpu);
      continue;
    }
    break;
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  cpu.irq.loop_base.store(outer, std::memory_order_relaxed);
}

void deliver_pending(CpuRecord& cpu) { deliver_loop(cpu, false); }

void on_interrupt_signal() {
  // Only what already exists: the initial-exec TLS pointer and the CPU's static record.
  CpuRecord* cpu = tls_cpu;
  if (cpu == nullptr) return;  // not a CPU (any more): nothing can be pending for this thread
  IrqCpuState& s = cpu->irq;
  // Relaxed + signal fences: only this CPU and its own nested activations touch these, and each
  // activation puts back what it changed before it returns. Counted first, before anything that
  // could take long enough for another signal to land: a nesting the mask should have prevented
  // is caught here or not at all.
  constexpr auto r = std::memory_order_relaxed;
  const std::uint32_t depth = s.in_signal.load(r) + 1;
  const bool window = s.window_open.load(r);
  s.in_signal.store(depth, r);
  s.window_open.store(false, r);  // the kernel has just blocked the signal for this activation
  bump(s.signal_activations);
  if (depth > s.max_signal_depth.load(r)) s.max_signal_depth.store(depth, r);
  if (depth > 1) {
    bump(s.signal_nested);
    if (!window) [[unlikely]]
      bump(s.nested_outside_window);
  }
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (cpu->pending.load(r) != 0) deliver_loop(*cpu, true);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  s.window_open.store(window, r);  // as the kernel's return from the handler restores the mask
  s.in_signal.store(depth - 1, r);
}

CpuRecord& checked_cpu(int index, const char* who) {
  CpuRecord* cpu = index >= 0 ? cpu_record(static_cast<unsigned>(index)) : nullptr;
  // Acquire pairs with the release store of attach: the record's tid is the new thread's. An index
  // no thread holds (never used, ended, or gone with fork()) is the caller's error: a raise there
  // would be lost, so it is a crash instead.
  if (cpu == nullptr || !cpu->attached.load(std::memory_order_acquire)) [[unlikely]]
    violation(Rule::Fatal, who, nullptr, this_cpu_if_attached(), {}, "cpu", index);
  return *cpu;
}

void kick(CpuRecord& target) {
  // Seq_cst, paired with attach's tid store and pending check: a thread that took the index after
  // our bit was set either saw the bit when it attached or is the tid we read here.
  const int tid = target.tid.load(std::memory_order_seq_cst);
  if (tid != 0) platform::signal_thread(tid, irq::signal_number());
}

void on_cpu_attach(CpuRecord& cpu) {
  // A fresh record, or one a thread left: the per-thread delivery state starts over. Pending IRQs
  // and softints that raced with the previous thread's end stay, for this thread to deliver
  // (on_cpu_attached). Relaxed: the thread is not a CPU yet; attach publishes the record with a
  // release store. Nothing here touches signals: the handler is installed by the first use of
  // the interrupt machinery (install_signal), and the thread's signal mask is the program's.
  cpu.irq.deferred.store(0, std::memory_order_relaxed);
  cpu.irq.loop_base.store(0, std::memory_order_relaxed);
}

void on_cpu_attached(CpuRecord& cpu) {
  // What a raise left for this index while no thread held it (it set the bit after the previous
  // thread's last delivery, and its signal found no thread) is this thread's to deliver, now: an
  // idle thread may never release a lock. Seq_cst pairs with kick(), see there.
  if (cpu.pending.load(std::memory_order_seq_cst) != 0) [[unlikely]]
    deliver_loop(cpu, true);
}

void on_cpu_forget(CpuRecord& cpu) {
  // fork()'s child, single-threaded: the index's thread is not in this process.
  IrqCpuState& s = cpu.irq;
  constexpr auto r = std::memory_order_relaxed;
  for (std::atomic<std::uint64_t>& t : s.raised_ns) t.store(0, r);
  s.deferred.store(0, r);
  s.loop_base.store(0, r);
  s.in_signal.store(0, r);
  s.window_open.store(false, r);
  // Its queued lowipl routines were that thread's: they go with it.
  for (std::uint32_t t = s.lowipl_head.load(r); t != s.lowipl_tail.load(r); ++t) {
    s.lowipl[t % kLowiplSlots].fn.store(nullptr, r);
    s.lowipl[t % kLowiplSlots].arg.store(nullptr, r);
  }
  s.lowipl_head.store(s.lowipl_tail.load(r), r);
}

void on_cpu_detach(CpuRecord& cpu) {
  // No lock is held (R7 was checked), so the CPU is at Null or Softint. Deliver everything at
  // Null, on this thread, before it stops being a CPU: pending IRQs, a requested softint, and
  // every lowipl routine it queued. Repeat while handlers queue more.
  const std::uint8_t saved = cpu.level.load(std::memory_order_relaxed);
  cpu.level.store(to_int(Level::Null), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  while (cpu.pending.load(std::memory_order_acquire) != 0 ||
         cpu.irq.lowipl_head.load(std::memory_order_relaxed) != cpu.irq.lowipl_tail.load(std::memory_order_relaxed)) {
    if ((cpu.pending.load(std::memory_order_relaxed) & kPendingLowipl) == 0)
      cpu.pending.fetch_or(kPendingLowipl, std::memory_order_relaxed);
    deliver_loop(cpu, false);
  }
  cpu.level.store(saved, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

}  // namespace detail

namespace irq {

using detail::CpuRecord;

Lock& line(unsigned n) {
  detail::check_line(n, "irq::line(): no such IRQ line (0..15)");
  return detail::g_line_locks[n];
}

Lock& attach(unsigned n, Handler fn, void* arg) {
  detail::check_line(n, "irq::attach(): no such IRQ line (0..15)");
  if (fn == nullptr)
    detail::violation(Rule::Fatal, "irq::attach(): null handler", nullptr, detail::this_cpu_if_attached(), {});
  detail::install_signal();  // the program uses interrupts: from here the signal is ours
  Lock& lock = detail::g_line_locks[n];
  Guard guard(lock);  // the handler table is the line's: changed with its lock held
  detail::HandlerTable& t = detail::g_handlers[n];
  for (unsigned i = 0; i < kMaxHandlers; ++i) {
    if (t.fn[i].load(std::memory_order_relaxed) != nullptr) continue;
    t.arg[i].store(arg, std::memory_order_relaxed);
    t.fn[i].store(fn, std::memory_order_relaxed);
    return lock;
  }
  detail::violation(Rule::Fatal, "irq::attach(): the line already has irq::kMaxHandlers handlers", &lock,
                    detail::this_cpu_if_attached(), {});
}

void detach(unsigned n, Handler fn, void* arg) {
  detail::check_line(n, "irq::detach(): no such IRQ line (0..15)");
  Lock& lock = detail::g_line_locks[n];
  Guard guard(lock);  // also waits for a dispatch of this line running on another CPU
  detail::HandlerTable& t = detail::g_handlers[n];
  for (unsigned i = 0; i < kMaxHandlers; ++i) {
    if (t.fn[i].load(std::memory_order_relaxed) != fn || t.arg[i].load(std::memory_order_relaxed) != arg) continue;
    t.fn[i].store(nullptr, std::memory_order_relaxed);
    t.arg[i].store(nullptr, std::memory_order_relaxed);
    return;
  }
  detail::violation(Rule::Fatal, "irq::detach(): no such handler on the line", &lock, detail::this_cpu_if_attached(),
                    {});
}

void raise(unsigned n, int cpu) {
  detail::check_line(n, "irq::raise(): no such IRQ line (0..15)");
  CpuRecord& target = detail::checked_cpu(cpu, "irq::raise(): no attached CPU with that index");
  detail::install_signal();  // before any signal can be sent (one load once installed)
  const std::uint8_t line_level = to_int(irq_level(n));
  const unsigned bit = line_level - kIrqLevelLow;
  const std::uint32_t mask = 1u << bit;
  detail::LineCounters& c = detail::g_line_counters[n];
  c.raised.fetch_add(1, std::memory_order_relaxed);
  // Time the first raise of a delivery: none -> now, before the bit is set so the delivery that
  // clears the bit finds it (a raise that merges finds a time there already and skips the clock).
  std::atomic<std::uint64_t>& raised_ns = target.irq.raised_ns[bit];
  if (raised_ns.load(std::memory_order_relaxed) == 0) {
    std::uint64_t none = 0;
    raised_ns.compare_exchange_strong(none, platform::now_ns(), std::memory_order_relaxed);
  }
  // not pending -> pending. Release pairs with the delivery's acquire: what the caller wrote
  // before raising is visible to the handlers. Seq_cst (what the RMW is on x86 anyway) orders it
  // before kick()'s tid load against a thread attaching to the index (on_cpu_attached).
  const std::uint32_t before = target.pending.fetch_or(mask, std::memory_order_seq_cst);
  if ((before & mask) != 0) c.merged.fetch_add(1, std::memory_order_relaxed);
  if (&target == detail::this_cpu_if_attached()) {
    // This CPU: deliver now if the level allows (before raise returns, so in a loop of our own
    // even if one is running further down this stack), else it waits for the release that drops
    // below the line's level.
    if (target.level.load(std::memory_order_relaxed) < line_level)
      detail::deliver_loop(target, true);
    else
      detail::note_deferred(target, mask);
    return;
  }
  // Another CPU: only the raise that set the bit signals; the others merge into its delivery.
  if ((before & mask) == 0) detail::kick(target);
}

int signal_number() {
  const int s = detail::g_irq_signal.load(std::memory_order_relaxed);
  return s != 0 ? s : SIGURG;
}

LineStats line_stats(unsigned n) {
  detail::check_line(n, "irq::line_stats(): no such IRQ line (0..15)");
  const detail::LineCounters& c = detail::g_line_counters[n];
  constexpr auto r = std::memory_order_relaxed;
  LineStats s;
  s.raised = c.raised.load(r);
  s.merged = c.merged.load(r);
  s.delivered = c.delivered.load(r);
  s.deferred = c.deferred.load(r);
  s.delay_ns = c.delay_ns.load(r);
  s.max_delay_ns = c.max_delay_ns.load(r);
  s.latency_ns = c.latency_ns.load(r);
  s.max_latency_ns = c.max_latency_ns.load(r);
  return s;
}

SignalStats signal_stats() {
  constexpr auto r = std::memory_order_relaxed;
  SignalStats s;
  const unsigned high = detail::cpu_high();
  for (unsigned i = 0; i < high; ++i) {
    const CpuRecord* cpu = detail::cpu_record(i);
    if (cpu == nullptr) continue;
    const detail::IrqCpuState& c = cpu->irq;
    s.activations += c.signal_activations.load(r);
    s.nested += c.signal_nested.load(r);
    s.nested_outside_window += c.nested_outside_window.load(r);
    s.max_depth = std::max(s.max_depth, c.max_signal_depth.load(r));
  }
  return s;
}

void reset_line_stats() {
  for (detail::LineCounters& c : detail::g_line_counters)
    for (std::atomic<std::uint64_t>* a : {&c.raised, &c.merged, &c.delivered, &c.deferred, &c.delay_ns,
                                          &c.max_delay_ns, &c.latency_ns, &c.max_latency_ns})
      a->store(0, std::memory_order_relaxed);
}

}  // namespace irq
}  // namespace smplock
