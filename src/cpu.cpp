// CPUs: attaching a thread on first use, detaching it when it ends (R7), the CPU table after
// fork(), softint control (R6) and level assertions (R9).
//
// Indices: the lowest free one is handed out (a bitmap over the whole 16-bit index space, 8 KiB of
// .bss); its record is mapped the first time the index is used and kept for it from then on. So a
// program may have as many threads attached at once as there are indices (kMaxCpus, 32767 unless
// built lower), and pays memory for the most it ever had at once, not for the most it could have.
#include "smplock/cpu.hpp"

#include <new>

#include "internal.hpp"
#include "platform/platform.hpp"

namespace smplock {
namespace detail {

CpuTable<CpuRecord> g_cpu_table;
std::atomic<unsigned> g_cpu_high{0};
NoCpuStorage g_no_cpu;
__thread CpuRecord* tls_cpu __attribute__((tls_model("initial-exec"))) = nullptr;
std::atomic<bool> g_hold_timing{false};

void* map_zeroed(std::size_t bytes, const char* what) {
  void* p = platform::map_pages(bytes);
  if (p == nullptr) [[unlikely]]
    violation(Rule::Fatal, what, nullptr, nullptr, {});
  return p;
}

void* cpu_table_chunk(std::atomic<void*>& slot, std::size_t bytes) {
  void* fresh = map_zeroed(bytes, "out of memory mapping a per-CPU table chunk");
  void* seen = nullptr;
  // none -> ours. Release pairs with CpuTable's acquire loads: the zeroed entries come with it.
  // A loser (another CPU touched the chunk at the same moment) gives its mapping back.
  if (slot.compare_exchange_strong(seen, fresh, std::memory_order_acq_rel, std::memory_order_acquire))
    return fresh;
  platform::unmap_pages(fresh, bytes);
  return seen;
}

void cpu_table_unmap(std::atomic<void*>& slot, std::size_t bytes) {
  if (void* c = slot.exchange(nullptr, std::memory_order_acq_rel)) platform::unmap_pages(c, bytes);
}

namespace {
constexpr unsigned kWords = (kMaxCpus + 63) / 64;
std::atomic<std::uint64_t> g_used[kWords];   // bit i: index i is taken
std::atomic<unsigned> g_attached{0};
std::atomic<AttachHook> g_attach_hooks[kAttachHooks];

// The record of `index`, mapped on the index's first use. Only the thread that has just taken the
// index calls this, so no two threads make the same record.
CpuRecord& record_for(unsigned index) {
  std::atomic<CpuRecord*>& entry = g_cpu_table[index];
  if (CpuRecord* r = entry.load(std::memory_order_acquire)) return *r;
  // Zeroed memory is a fresh record (every field's initial value is zero): no constructor runs,
  // so the pages a CPU never touches (counters of classes it never takes) stay uncommitted.
  auto* r = static_cast<CpuRecord*>(map_zeroed(sizeof(CpuRecord), "out of memory mapping a CPU record"));
  r->index = static_cast<int>(index);
  r->tag = index + 1;
  // Release: cpu_record() readers (raisers, snapshots) see index and tag with the pointer.
  entry.store(r, std::memory_order_release);
  unsigned high = g_cpu_high.load(std::memory_order_relaxed);
  while (high < index + 1 &&
         !g_cpu_high.compare_exchange_weak(high, index + 1, std::memory_order_release, std::memory_order_relaxed)) {
  }
  return *r;
}

// Hands out the lowest free index (marked taken), or -1 when all kMaxCpus are.
int take_index() {
  for (unsigned w = 0; w < kWords; ++w) {
    std::uint64_t bits = g_used[w].load(std::memory_order_relaxed);
    while (~bits != 0) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctzll(~bits));
      const unsigned index = w * 64 + bit;
      if (index >= kMaxCpus) return -1;
      // free -> taken. Acquire pairs with the release of the detach that freed it: the record
      // is as that thread left it.
      if (g_used[w].compare_exchange_weak(bits, bits | (1ull << bit), std::memory_order_acquire,
                                          std::memory_order_relaxed))
        return static_cast<int>(index);
    }
  }
  return -1;
}

void give_back_index(unsigned index) {
  g_used[index / 64].fetch_and(~(1ull << (index % 64)), std::memory_order_release);
}

// fork()'s child: the forking thread is the only thread, so it is the only CPU. Every other index
// goes back to the free set, its record reset as if its thread had ended with nothing held: the
// parent's other threads do not exist here, and a raise to their indices must be a crash, not a
// signal to nobody. Runs in the child before fork() returns, with one thread: plain stores.
void after_fork_child() {
  CpuRecord* const mine = tls_cpu;
  for (std::atomic<std::uint64_t>& w : g_used) w.store(0, std::memory_order_relaxed);
  const unsigned high = g_cpu_high.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < high; ++i) {
    CpuRecord* cpu = cpu_record(i);
    if (cpu == nullptr || cpu == mine) continue;
    cpu->attached.store(false, std::memory_order_relaxed);
    cpu->tid.store(0, std::memory_order_relaxed);
    cpu->level.store(to_int(Level::Null), std::memory_order_relaxed);
    for (HeldEntry& e : cpu->held) {
      if (e.key == 0) continue;  // reads only: untouched pages stay untouched
      e.key = 0;
      e.nest = 0;
    }
    cpu->pending.store(0, std::memory_order_relaxed);
    on_cpu_forget(*cpu);
  }
  if (mine != nullptr) g_used[mine->index / 64].store(1ull << (mine->index % 64), std::memory_order_relaxed);
  g_attached.store(mine != nullptr ? 1u : 0u, std::memory_order_relaxed);
}

// Registered when the library is loaded (a static library: when cpu.o is linked in, which every
// use of a CPU does), before any thread can fork.
__attribute__((constructor)) void register_fork_handler() { platform::on_fork_child(after_fork_child); }

void detach(void* arg) {
  CpuRecord& cpu = *static_cast<CpuRecord*>(arg);
  for (const HeldEntry& e : cpu.held) {
    if (e.key == 0) continue;
    if (e.lock() == &g_raised_level)
      violation(Rule::R7_NoLockOutlivesCpu, "a thread is ending with its level raised (raise_level)", nullptr,
                &cpu, e.where);
    violation(Rule::R7_NoLockOutlivesCpu, "a thread is ending while it holds locks", e.lock(), &cpu, e.where);
  }
  on_cpu_detach(cpu);
  tls_cpu = nullptr;
  cpu.tid.store(0, std::memory_order_relaxed);
  cpu.attached.store(false, std::memory_order_release);
  // Give the index back; release pairs with the acquire of the next attach that takes it, so the
  // next thread sees this record as we left it.
  give_back_index(static_cast<unsigned>(cpu.index));
  g_attached.fetch_sub(1, std::memory_order_relaxed);
}
}  // namespace

bool add_attach_hook(AttachHook hook) {
  for (auto& slot : g_attach_hooks) {
    AttachHook empty = nullptr;
    // empty -> hook; release pairs with attach's acquire load, which then calls a published hook.
    if (slot.compare_exchange_strong(empty, hook, std::memory_order_release, std::memory_order_relaxed)) return true;
  }
  return false;
}

CpuRecord& attach_this_thread() {
#ifdef SMPLOCK_UNIPROCESSOR
  // none -> one, atomically: two threads attaching at the same moment cannot both see none.
  unsigned none = 0;
  if (!g_attached.compare_exchange_strong(none, 1, std::memory_order_relaxed))
    violation(Rule::Fatal, "a second CPU is attaching to a uniprocessor build", nullptr, nullptr, {});
#else
  g_attached.fetch_add(1, std::memory_order_relaxed);
#endif
  const int index = take_index();
  if (index < 0) [[unlikely]]
    violation(Rule::Fatal, "every CPU index is taken (more threads attached at once than SMPLOCK_MAX_CPUS)", nullptr,
              nullptr, {}, "limit", static_cast<int>(kMaxCpus));
  CpuRecord& cpu = record_for(static_cast<unsigned>(index));
  cpu.level.store(to_int(Level::Null), std::memory_order_relaxed);
  // Seq_cst, like the pending check in on_cpu_attached(): a raiser that sets a bit after that
  // check reads this tid (and signals us); one that set it before is seen by the check.
  cpu.tid.store(platform::thread_id(), std::memory_order_seq_cst);
  on_cpu_attach(cpu);
  cpu.attached.store(true, std::memory_order_release);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  tls_cpu = &cpu;
  platform::register_thread_exit(detach, &cpu);
  for (auto& hook : g_attach_hooks)
    if (const AttachHook h = hook.load(std::memory_order_acquire)) h(cpu);
  on_cpu_attached(cpu);
  return cpu;
}

}  // namespace detail

unsigned cpus_attached() { return detail::g_attached.load(std::memory_order_relaxed); }

bool set_softint(bool enable, std::source_location where) {
  detail::CpuRecord& cpu = detail::this_cpu();
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  if (current > to_int(Level::Softint))
    detail::violation(Rule::R6_SoftintWithoutLocks, "set_softint() with a lock held (above Softint)", nullptr, &cpu,
                      where);
  cpu.level.store(to_int(enable ? Level::Null : Level::Softint), std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (enable && cpu.pending.load(std::memory_order_relaxed) != 0) detail::deliver_pending(cpu);
  return current == to_int(Level::Null);
}

void check_level(Level expected, std::source_location where) {
  detail::CpuRecord& cpu = detail::this_cpu();
  if (cpu.level.load(std::memory_order_relaxed) != to_int(expected))
    detail::violation(Rule::R9_LevelAssertion, "check_level() found the CPU at another level", nullptr, &cpu, where,
                      "expected", to_int(expected));
}

}  // namespace smplock
