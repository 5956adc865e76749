// The bounded pass-over under a crowd: 16 threads on one lock (on however few cores the machine
// has), a fixed number of acquisitions each, with the hunger budget small enough that hand-offs
// (smplock/lock.hpp, "Bounded pass-over") happen all through the run. Checked: mutual exclusion
// (a plain counter and an occupancy count inside the section), no lost wake-up (the lost state of
// park_probe.hpp, test::stuck, which counts a handed-off word as free),
// every thread finishing its share, and the lock clean at the end (no mark, nobody counted).
// Nothing is timed: a lost wake-up is a state the main thread looks for, and the counts are exact.
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
constexpr int kRounds = 400;  // acquisitions per thread
#else
constexpr int kRounds = 3000;
#endif

struct Outcome {
  unsigned lost = 0;          // times the lost-wake-up state was seen
  std::uint64_t overlaps = 0; // times a thread found another inside the section
  std::uint64_t taken = 0;    // acquisitions counted inside the section
  int finished = 0;           // threads that did all their rounds
};

Outcome run(const char* name, std::uint64_t spin_ns, std::uint64_t yield_ns, std::uint64_t hunger_ns) {
  const test::WaitBudgets budgets(spin_ns, yield_ns, hunger_ns);
  Lock l(Level::PS, name);
  std::atomic<std::uint32_t>& word = LockAccess::word_ref(l);
  std::atomic<std::uint64_t> progress{0};
  std::atomic<int> occupancy{0};
  std::atomic<std::uint64_t> overlaps{0};
  std::uint64_t inside = 0;  // written only with the lock held
  std::atomic<int> tids[kThreads] = {};
  std::atomic<bool> done[kThreads] = {};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      tids[i].store(test::gettid_now());
      for (int r = 0; r < kRounds; ++r) {
        Guard g(l);
        if (occupancy.fetch_add(1, std::memory_order_relaxed) != 0) overlaps.fetch_add(1);
        ++inside;
        progress.fetch_add(1, std::memory_order_relaxed);
        // Now and then a longer hold, so that waiters pass the budgets and sleep.
        if ((r & 31) == 0) std::this_thread::yield();
        occupancy.fetch_sub(1, std::memory_order_relaxed);
      }
      done[i].store(true);
    });
  for (int i = 0; i < kThreads; ++i)
    while (tids[i].load() == 0) std::this_thread::yield();

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
  for (int i = 0; i < kThreads; ++i) out.finished += done[i].load() ? 1 : 0;
  {
    Guard g(l);  // orders `inside` after every thread's last write
    out.taken = inside;
  }
  out.overlaps = overlaps.load();
  EXPECT_EQ(word.load(), 0u) << name;
  EXPECT_EQ(LockAccess::waiters(l), 0u) << name;
  EXPECT_EQ(LockAccess::sleepers(l), 0u) << name;  // no count, no hungry mark left
  return out;
}

void expect_clean(const Outcome& o) {
  EXPECT_EQ(o.lost, 0u);
  EXPECT_EQ(o.overlaps, 0u);
  EXPECT_EQ(o.finished, kThreads);
  EXPECT_EQ(o.taken, std::uint64_t{kThreads} * kRounds);
}

// Every contended acquire hungry at once: hand-offs on nearly every release with a waiter.
TEST(HandOffStress, SixteenThreadsAlwaysHungry) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  expect_clean(run("handoff-always", 0, 0, 0));
}

// Short budgets: waiters spin, yield, sleep and turn hungry, each phase reached.
TEST(HandOffStress, SixteenThreadsShortBudgets) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  expect_clean(run("handoff-short", 1000, 10'000, 50'000));
}

// The library's own budgets.
TEST(HandOffStress, SixteenThreadsLibraryBudgets) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  expect_clean(run("handoff-default", detail::g_spin_budget_ns.load(), detail::g_yield_budget_ns.load(),
                   detail::g_hunger_budget_ns.load()));
}

}  // namespace
}  // namespace smplock
