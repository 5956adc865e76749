// Software interrupts: the lowipl queue (lowipl::call) and the softint routine
// (softint::request). Both run at Softint, delivered by the loop in irq.cpp when a CPU is at Null.
#include "irq_internal.hpp"
#include "smplock/lowipl.hpp"

namespace smplock {
namespace detail {
namespace {

// The program's softint routine. Set before use; the two halves are read separately, so a routine
// changed while softints run may be called once with the other's argument (documented: set it
// before requesting).
std::atomic<softint::Routine> g_softint_fn{nullptr};
std::atomic<void*> g_softint_arg{nullptr};

void enter_softint(CpuRecord& cpu) {
  cpu.level.store(to_int(Level::Softint), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

}  // namespace

void check_routine_returned(CpuRecord& cpu, const char* what) {
  if (cpu.level.load(std::memory_order_relaxed) > to_int(Level::Softint)) [[unlikely]]
    violation(Rule::Fatal, what, nullptr, &cpu, {});
}

void run_lowipl_queue(CpuRecord& cpu) {
  IrqCpuState& q = cpu.irq;
  for (;;) {
    // Only this loop advances head, and only at Softint (never nested in itself: a signal
    // handler runs the loop only at Null), so a relaxed load is exact.
    const std::uint32_t head = q.lowipl_head.load(std::memory_order_relaxed);
    if (head == q.lowipl_tail.load(std::memory_order_relaxed)) return;
    LowiplSlot& slot = q.lowipl[head % kLowiplSlots];
    // Acquire pairs with the release of call(): arg is written too. Not set yet: that call was
    // interrupted while queueing (we are its signal handler); it delivers once it has finished.
    const lowipl::Routine fn = slot.fn.load(std::memory_order_acquire);
    if (fn == nullptr) return;
    void* const arg = slot.arg.load(std::memory_order_relaxed);
    slot.fn.store(nullptr, std::memory_order_relaxed);
    // Release: the slot is free for the ticket head + kLowiplSlots from here on.
    q.lowipl_head.store(head + 1, std::memory_order_release);
    fn(arg);
    check_routine_returned(cpu, "a lowipl routine returned holding a lock");
    enter_softint(cpu);  // it may have enabled softints (set_softint(true)): back to Softint
  }
}

void run_software(CpuRecord& cpu) {
  enter_softint(cpu);
  // softint/lowipl pending -> clear, before running: a request or call made while they run sets
  // the bit again and the loop comes back. Acquire pairs with the requester's release.
  const std::uint32_t was =
      cpu.pending.fetch_and(~(kPendingSoftint | kPendingLowipl), std::memory_order_acq_rel);
  {
    SignalWindow window(cpu);  // at Softint now: only IRQs can nest; closed before the drop to Null
    if ((was & kPendingSoftint) != 0) {
      if (const softint::Routine fn = g_softint_fn.load(std::memory_order_acquire)) {
        fn(g_softint_arg.load(std::memory_order_relaxed), cpu.index);
        check_routine_returned(cpu, "the softint routine returned holding a lock");
        enter_softint(cpu);
      }
    }
    if ((was & kPendingLowipl) != 0) run_lowipl_queue(cpu);
  }
  cpu.level.store(to_int(Level::Null), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

}  // namespace detail

namespace lowipl {

static_assert(detail::kLowiplSlots == 512, "the crash message in call() names the queue's size");

void call(Routine fn, void* arg) {
  detail::CpuRecord& cpu = detail::this_cpu();
  if (cpu.level.load(std::memory_order_relaxed) > to_int(Level::HI)) [[unlikely]]
    detail::violation(Rule::Fatal, "lowipl::call() above HI", nullptr, &cpu, {});
  if (fn == nullptr) [[unlikely]]
    detail::violation(Rule::Fatal, "lowipl::call() with a null routine", nullptr, &cpu, {});
  detail::IrqCpuState& q = cpu.irq;
  // Take a ticket: tail -> tail + 1. A CAS rather than a plain store because a signal handler on
  // this CPU may queue in the middle of this call. Relaxed: only this CPU uses its queue.
  std::uint32_t ticket = q.lowipl_tail.load(std::memory_order_relaxed);
  do {
    // Acquire pairs with the drain's release of head: the slot we would take is free.
    if (ticket - q.lowipl_head.load(std::memory_order_acquire) >= detail::kLowiplSlots) [[unlikely]]
      detail::violation(Rule::Fatal,
                        "lowipl::call(): 512 routines already wait on this CPU (it never drops to Null?)", nullptr,
                        &cpu, {});
  } while (!q.lowipl_tail.compare_exchange_weak(ticket, ticket + 1, std::memory_order_relaxed,
                                                std::memory_order_relaxed));
  detail::LowiplSlot& slot = q.lowipl[ticket % detail::kLowiplSlots];
  slot.arg.store(arg, std::memory_order_relaxed);
  // filling -> ready. Release pairs with the drain's acquire of fn: arg is visible with it.
  slot.fn.store(fn, std::memory_order_release);
  cpu.pending.fetch_or(detail::kPendingLowipl, std::memory_order_release);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (cpu.level.load(std::memory_order_relaxed) == to_int(Level::Null)) detail::deliver_loop(cpu, true);
}

unsigned queued() {
  const detail::CpuRecord* cpu = detail::this_cpu_if_attached();
  if (cpu == nullptr) return 0;
  return cpu->irq.lowipl_tail.load(std::memory_order_relaxed) - cpu->irq.lowipl_head.load(std::memory_order_relaxed);
}

}  // namespace lowipl

namespace softint {

void set_routine(Routine fn, void* arg) {
  detail::install_signal();  // the program uses softints: other CPUs are signalled for them
  detail::g_softint_arg.store(arg, std::memory_order_relaxed);
  // Release: a CPU that sees the routine sees its argument.
  detail::g_softint_fn.store(fn, std::memory_order_release);
}

void request(int cpu) {
  detail::CpuRecord& target = detail::checked_cpu(cpu, "softint::request(): no attached CPU with that index");
  detail::install_signal();  // before any signal can be sent (one load once installed)
  // not requested -> requested. Release pairs with the delivery's acquire; seq_cst orders it
  // before kick()'s tid load (see irq::raise).
  const std::uint32_t before = target.pending.fetch_or(detail::kPendingSoftint, std::memory_order_seq_cst);
  if (&target == detail::this_cpu_if_attached()) {
    if (target.level.load(std::memory_order_relaxed) == to_int(Level::Null)) detail::deliver_loop(target, true);
    return;
  }
  if ((before & detail::kPendingSoftint) == 0) detail::kick(target);
}

}  // namespace softint
}  // namespace smplock
