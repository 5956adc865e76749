// The contended acquire's phases (src/lock.cpp, wait_for_word): spin, then yield, then park, and
// the parked bit a woken waiter leaves behind. The phase budgets are the library's runtime knobs
// (detail::g_spin_budget_ns, g_yield_budget_ns), set here far from the waits they are compared
// with, so the outcome does not depend on how fast the machine is.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "internal.hpp"
#include "needs_cpus.hpp"
#include "smplock/smplock.hpp"

namespace smplock {

// Reads a lock's private word and waiter count.
struct LockAccess {
  static std::uint32_t word(const Lock& l) { return l.word_.load(std::memory_order_relaxed); }
  static unsigned waiters(const Lock& l) { return l.waiters_.load(std::memory_order_relaxed); }
};

namespace {

using namespace std::chrono_literals;

// Sets the two budgets for one test and puts the library's values back after it.
class Budgets {
 public:
  Budgets(std::uint64_t spin_ns, std::uint64_t yield_ns)
      : spin_(detail::g_spin_budget_ns.exchange(spin_ns)), yield_(detail::g_yield_budget_ns.exchange(yield_ns)) {}
  ~Budgets() {
    detail::g_spin_budget_ns.store(spin_);
    detail::g_yield_budget_ns.store(yield_);
  }

 private:
  std::uint64_t spin_, yield_;
};

const stats::ClassStats* find(const stats::Snapshot& s, const std::string& name) {
  for (const stats::ClassStats& c : s.classes)
    if (c.name == name) return &c;
  return nullptr;
}

// Another CPU holds `l` for `hold`; this CPU waits for it. Returns the class's counters.
stats::Counters wait_behind_a_holder(Lock& l, std::chrono::milliseconds hold) {
  std::atomic<bool> held{false};
  std::thread holder([&] {
    const Level p = l.acquire();
    held.store(true);
    std::this_thread::sleep_for(hold);
    l.release(p);
  });
  while (!held.load()) std::this_thread::yield();
  {
    Guard g(l);  // waits for the holder
  }
  holder.join();
  const stats::Snapshot s = stats::snapshot();
  const stats::ClassStats* c = find(s, l.name());
  return c != nullptr ? c->counters : stats::Counters{};
}

TEST(LockWait, AWaiterYieldsBeforeItSleeps) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(4'000, 10'000'000'000);  // 4 us of spinning, then up to 10 s of yielding
  Lock l(Level::PS, "wait-yields");
  const stats::Counters c = wait_behind_a_holder(l, 20ms);
  EXPECT_EQ(c.contended, 1u);
  EXPECT_EQ(c.parks, 0u);       // 20 ms is well inside the yield phase: no sleep, no wake-up call
  EXPECT_GT(c.spins, 8u);       // it kept looking (a look per yield)
  EXPECT_GE(c.wait_ns, 10'000'000u);
}

TEST(LockWait, ALongWaitSleeps) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(4'000, 1'000'000);  // 4 us, then 1 ms of yielding, then sleep
  Lock l(Level::PS, "wait-sleeps");
  const stats::Counters c = wait_behind_a_holder(l, 50ms);
  EXPECT_EQ(c.contended, 1u);
  EXPECT_GE(c.parks, 1u);  // still waiting after both budgets: it slept (a 2 ms limit per sleep)
}

TEST(LockWait, AWokenWaiterSetsTheParkedBitOnlyForOthers) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(0, 0);  // straight to sleep
  Lock l(Level::PS, "wait-parked-bit");
  const Level p = l.acquire();
  std::atomic<std::uint32_t> word_while_held{0};
  std::atomic<int> waiter_cpu{-1};
  std::thread waiter([&] {
    Guard g(l);  // sleeps until the release below wakes it
    waiter_cpu.store(cpu_index());
    word_while_held.store(LockAccess::word(l));
  });
  // Release once the waiter has set the parked bit (it is then asleep, or about to be).
  while ((LockAccess::word(l) & Lock::kParked) == 0) std::this_thread::sleep_for(1ms);
  l.release(p);  // the waking path: clears the bit, wakes one
  waiter.join();
  // Nobody else waited, so the woken waiter took the lock with its bare tag: its own release was a
  // plain store, not another wake-up call for sleepers that do not exist.
  EXPECT_EQ(word_while_held.load(), static_cast<std::uint32_t>(waiter_cpu.load() + 1));
  EXPECT_EQ(LockAccess::word(l), 0u);
  EXPECT_EQ(LockAccess::waiters(l), 0u);
}

}  // namespace
}  // namespace smplock
