// The park protocol under load (issue 11, defect 12): 16 threads on one lock, a fixed number of
// acquisitions each, and no wake-up ever lost. Sleeps have no time limit (src/lock.cpp), so a lost
// wake-up is a state, not a slow run: the word free, nothing moving, every thread still due asleep
// on the word (park_probe.hpp, test::stuck). The main thread looks for that state the whole run and
// counts it; the verdict is that count (zero), the number of acquisitions (all of them), and the
// lock's counters at the end (nobody left waiting or counted as a sleeper). Nothing is timed.
//
// Every thread starts asleep: the main thread holds the lock until all 16 sleep on it, so the park
// path is taken whatever the machine's speed. Two rounds: one with the spin and yield budgets at
// zero (every contended acquire sleeps, every release with a sleeper wakes one), one with the
// library's own budgets.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "lock_access.hpp"
#include "needs_cpus.hpp"
#include "park_probe.hpp"
#include "smplock/smplock.hpp"
#include "wait_budgets.hpp"

namespace smplock {

namespace {

constexpr int kThreads = 16;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kRounds = 500;  // acquisitions per thread
#else
constexpr int kRounds = 3000;
#endif

struct Outcome {
  unsigned lost = 0;         // times the lost-wake-up state was seen
  std::uint64_t taken = 0;   // acquisitions counted inside the critical section
  std::uint64_t parks = 0;   // sleeps, from the class's counters
};

Outcome run(const char* name, std::uint64_t spin_ns, std::uint64_t yield_ns) {
  const test::WaitBudgets budgets(spin_ns, yield_ns, detail::g_hunger_budget_ns.load());
  Lock l(Level::PS, name);
  std::atomic<std::uint32_t>& word = LockAccess::word_ref(l);
  std::atomic<std::uint64_t> progress{0};
  std::uint64_t inside = 0;  // written only with the lock held
  std::atomic<int> tids[kThreads] = {};
  std::atomic<bool> done[kThreads] = {};
  Level p = l.acquire();
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      tids[i].store(test::gettid_now());
      for (int r = 0; r < kRounds; ++r) {
        Guard g(l);
        ++inside;
        progress.fetch_add(1, std::memory_order_relaxed);
        // Now and then a longer hold, so that waiters reach the park phase with the library's budgets too.
        if ((r & 63) == 0) std::this_thread::yield();
      }
      done[i].store(true);
    });
  for (int i = 0; i < kThreads; ++i)
    while (tids[i].load() == 0 || !test::asleep_on(tids[i].load(), &word)) std::this_thread::yield();
  l.release(p);

  Outcome out;
  for (;;) {
    std::vector<int> due;
    for (int i = 0; i < kThreads; ++i)
      if (!done[i].load()) due.push_back(tids[i].load());
    if (due.empty()) break;
    if (test::stuck(word, progress, due)) {
      ++out.lost;
      test::wake_all(word);  // let them finish; the count is the verdict
    }
    std::this_thread::yield();
  }
  for (std::thread& t : threads) t.join();
  {
    Guard g(l);  // orders `inside` after every thread's last write
    out.taken = inside;
  }
  EXPECT_EQ(word.load(), 0u) << name;
  EXPECT_EQ(LockAccess::waiters(l), 0u) << name;
  EXPECT_EQ(LockAccess::sleepers(l), 0u) << name;
  const stats::Snapshot s = stats::snapshot();
  for (const stats::ClassStats& c : s.classes)
    if (c.name == name) out.parks = c.counters.parks;
  return out;
}

TEST(Park, SixteenThreadsStraightToSleepLoseNoWakeUp) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Outcome o = run("park-zero-budgets", 0, 0);
  EXPECT_EQ(o.lost, 0u);
  EXPECT_EQ(o.taken, std::uint64_t{kThreads} * kRounds);
  EXPECT_GE(o.parks, std::uint64_t{kThreads});                // every thread slept at least once
}

TEST(Park, SixteenThreadsWithTheLibrarysBudgetsLoseNoWakeUp) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Outcome o = run("park-default-budgets", detail::g_spin_budget_ns.load(), detail::g_yield_budget_ns.load());
  EXPECT_EQ(o.lost, 0u);
  EXPECT_EQ(o.taken, std::uint64_t{kThreads} * kRounds);
  EXPECT_GE(o.parks, std::uint64_t{kThreads});
}

}  // namespace
}  // namespace smplock
