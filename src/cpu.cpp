// CPUs: attaching a thread on first use, detaching it when it ends (R7), softint control (R6) and
// level assertions (R9).
#include "smplock/cpu.hpp"

#include "internal.hpp"
#include "platform/platform.hpp"

namespace smplock {
namespace detail {

CpuRecord g_cpus[kMaxCpus];
__thread CpuRecord* tls_cpu __attribute__((tls_model("initial-exec"))) = nullptr;
std::atomic<bool> g_hold_timing{false};

namespace {
constexpr unsigned kWords = (kMaxCpus + 63) / 64;
std::atomic<std::uint64_t> g_used[kWords];   // bit i: index i is taken
std::atomic<unsigned> g_attached{0};
std::atomic<AttachHook> g_attach_hooks[kAttachHooks];

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
  g_used[cpu.index / 64].fetch_and(~(1ull << (cpu.index % 64)), std::memory_order_release);
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
  if (g_attached.load(std::memory_order_relaxed) != 0)
    violation(Rule::Fatal, "a second CPU is attaching to a uniprocessor build", nullptr, nullptr, {});
#endif
  for (unsigned w = 0; w < kWords; ++w) {
    std::uint64_t bits = g_used[w].load(std::memory_order_relaxed);
    while (~bits != 0) {
      const unsigned bit = static_cast<unsigned>(__builtin_ctzll(~bits));
      const unsigned index = w * 64 + bit;
      if (index >= kMaxCpus) break;
      if (!g_used[w].compare_exchange_weak(bits, bits | (1ull << bit), std::memory_order_acquire,
                                           std::memory_order_relaxed))
        continue;
      CpuRecord& cpu = g_cpus[index];
      cpu.index = static_cast<int>(index);
      cpu.tag = index + 1;
      cpu.level.store(to_int(Level::Null), std::memory_order_relaxed);
      cpu.tid.store(platform::thread_id(), std::memory_order_relaxed);
      g_attached.fetch_add(1, std::memory_order_relaxed);
      on_cpu_attach(cpu);
      cpu.attached.store(true, std::memory_order_release);
      std::atomic_signal_fence(std::memory_order_seq_cst);
      tls_cpu = &cpu;
      platform::register_thread_exit(detach, &cpu);
      for (auto& hook : g_attach_hooks)
        if (const AttachHook h = hook.load(std::memory_order_acquire)) h(cpu);
      return cpu;
    }
  }
  violation(Rule::Fatal, "more CPUs than SMPLOCK_MAX_CPUS are attached", nullptr, nullptr, {});
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
