// The contended acquire's phases (src/lock.cpp, wait_for_word): spin, then yield, then park, and
// the park protocol: a sleeper sleeps until a release wakes it (no time limit), and stays counted
// in the lock's sleepers until it has the word, so no sleeper is left behind. The phase budgets are the library's runtime knobs
// (detail::g_spin_budget_ns, g_yield_budget_ns), set here far from the waits they are compared
// with, so the outcome does not depend on how fast the machine is. Whether a thread is asleep is
// asked of the kernel (park_probe.hpp), never guessed from elapsed time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

using namespace std::chrono_literals;

// The budgets for one test. The hunger budget is set to never: these tests count sleepers exactly,
// and a hungry waiter is marked, not counted (the hand-off has its own tests,
// unit/lock_handoff_test.cpp).
struct Budgets : test::WaitBudgets {
  Budgets(std::uint64_t spin_ns, std::uint64_t yield_ns) : WaitBudgets(spin_ns, yield_ns, kNever) {}
};

const stats::ClassStats* find(const stats::Snapshot& s, const std::string& name) {
  for (const stats::ClassStats& c : s.classes)
    if (c.name == name) return &c;
  return nullptr;
}

// The class's counters now (zeros before its first acquire).
stats::Counters counters_of(const char* name) {
  const stats::Snapshot s = stats::snapshot();
  const stats::ClassStats* c = find(s, name);
  return c != nullptr ? c->counters : stats::Counters{};
}

// What one wait added to the class's counters (a test may run repeatedly in one process).
struct WaitCounts {
  std::uint64_t contended, spins, parks, wait_ns;
};

// Another CPU holds `l`; this CPU waits for it. The holder lets go only once this CPU is in the
// contended path (the lock's waiter count says so) and then `hold_on()` has returned, so the wait
// covers all of hold_on() however the two threads were scheduled.
template <class HoldOn>
WaitCounts wait_behind_a_holder(Lock& l, HoldOn hold_on) {
  const stats::Counters before = counters_of(l.name());
  std::atomic<bool> held{false};
  std::thread holder([&] {
    const Level p = l.acquire();
    held.store(true);
    while (LockAccess::waiters(l) == 0) std::this_thread::yield();
    hold_on();
    l.release(p);
  });
  while (!held.load()) std::this_thread::yield();
  {
    Guard g(l);  // waits for the holder
  }
  holder.join();
  const stats::Counters after = counters_of(l.name());
  return {after.contended - before.contended, after.spins - before.spins, after.parks - before.parks,
          after.wait_ns - before.wait_ns};
}

TEST(LockWait, AWaiterYieldsBeforeItSleeps) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(4'000, 10'000'000'000);  // 4 us of spinning, then up to 10 s of yielding
  Lock l(Level::PS, "wait-yields");
  // A 20 ms span with the waiter known to be waiting: well inside the yield phase.
  const WaitCounts c = wait_behind_a_holder(l, [] { std::this_thread::sleep_for(20ms); });
  EXPECT_EQ(c.contended, 1u);
  EXPECT_EQ(c.parks, 0u);  // no sleep, no wake-up call
  EXPECT_GE(c.spins, 1u);  // it looked (how often depends on how much processor it got)
  EXPECT_GE(c.wait_ns, 20'000'000u);
}

TEST(LockWait, ALongWaitSleeps) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(4'000, 1'000'000);  // 4 us, then 1 ms of yielding, then sleep
  Lock l(Level::PS, "wait-sleeps");
  // The holder lets go once the kernel says this thread is asleep on the word: past both budgets.
  const int me = test::gettid_now();
  const WaitCounts c = wait_behind_a_holder(l, [&] {
    while (!test::asleep_on(me, &LockAccess::word_ref(l))) std::this_thread::yield();
  });
  EXPECT_EQ(c.contended, 1u);
  EXPECT_EQ(c.parks, 1u);  // one sleep, ended by the release
}

TEST(LockWait, AWokenWaiterTakesTheWordBareAndUncountsItself) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(0, 0);  // straight to sleep
  Lock l(Level::PS, "wait-woken-uncounts");
  const Level p = l.acquire();
  std::atomic<std::uint32_t> word_while_held{0};
  std::atomic<unsigned> sleepers_while_held{99};
  std::atomic<int> waiter_cpu{-1};
  std::atomic<int> tid{0};
  std::thread waiter([&] {
    tid.store(test::gettid_now());
    Guard g(l);  // sleeps until the release below wakes it
    waiter_cpu.store(cpu_index());
    word_while_held.store(LockAccess::word(l));
    sleepers_while_held.store(LockAccess::sleepers(l));
  });
  // Release once the waiter is counted and asleep on the word, so the release must wake it.
  while (tid.load() == 0 || !test::asleep_on(tid.load(), &LockAccess::word_ref(l))) std::this_thread::yield();
  EXPECT_EQ(LockAccess::sleepers(l), 1u);
  l.release(p);  // the waking path: sleepers_ is nonzero, one futex wake-up
  waiter.join();
  // The woken waiter holds the word with its bare tag and is no longer counted, so its own release
  // was a plain store with no wake-up call for sleepers that do not exist.
  EXPECT_EQ(word_while_held.load(), static_cast<std::uint32_t>(waiter_cpu.load() + 1));
  EXPECT_EQ(sleepers_while_held.load(), 0u);
  EXPECT_EQ(LockAccess::word(l), 0u);
  EXPECT_EQ(LockAccess::waiters(l), 0u);
  EXPECT_EQ(LockAccess::sleepers(l), 0u);
}

// A sleep has no time limit: while the lock stays held, a sleeper stays asleep, however long. (The
// protocol once slept at most 2 ms at a time, so that a wake-up it could lose would not hang the
// waiter; a sleeper then woke about 25 times during this hold, and 40-48% of all sleeps under
// contention ended by that limit. The hold below is a span in which nothing may happen, not a
// guess at how long something takes.)
TEST(LockWait, ASleeperWakesOnlyWhenReleased) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(0, 0);  // straight to sleep
  Lock l(Level::PS, "wait-no-time-limit");
  const std::uint64_t parks_before = counters_of(l.name()).parks;
  const Level p = l.acquire();
  std::atomic<int> tid{0};
  std::thread waiter([&] {
    tid.store(test::gettid_now());
    Guard g(l);
  });
  while (tid.load() == 0 || !test::asleep_on(tid.load(), &LockAccess::word_ref(l))) std::this_thread::yield();
  const long before = test::voluntary_switches(tid.load());
  std::this_thread::sleep_for(50ms);
  const long after = test::voluntary_switches(tid.load());
  EXPECT_TRUE(test::asleep_on(tid.load(), &LockAccess::word_ref(l)));
  EXPECT_EQ(after, before) << "the sleeper woke " << after - before << " times while the lock stayed held";
  l.release(p);
  waiter.join();
  EXPECT_EQ(counters_of(l.name()).parks - parks_before, 1u);  // one sleep, ended by the release's wake-up
}

// The lost wake-up the protocol once had a time limit for (issue 11, defect 12): a release wakes
// one of several sleepers; a fresh acquirer takes the word bare on the fast path before the woken
// one runs; the others still sleep. Every one of them must still be counted in the lock's sleepers
// (so the fresh acquirer's release wakes the next), and every later release must wake the next. Each step is forced, and each state is read from the kernel: every sleeper is asleep on
// the word before a release, and no state is ever reached where the word is free, nothing moves,
// and every sleeper still due is asleep (test::stuck: with no time limit, that is a hang).
TEST(LockWait, AFreshAcquirerAfterAWakeLeavesNoSleeperBehind) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const Budgets budgets(0, 0);  // straight to sleep, and a woken waiter straight back to sleep
  constexpr int kSleepers = 3;
  Lock l(Level::PS, "wait-fresh-acquirer");
  std::atomic<std::uint32_t>& word = LockAccess::word_ref(l);
  std::atomic<std::uint64_t> progress{0};
  std::atomic<int> tids[kSleepers] = {};
  std::atomic<bool> done[kSleepers] = {};
  Level p = l.acquire();
  std::vector<std::thread> threads;
  for (int i = 0; i < kSleepers; ++i)
    threads.emplace_back([&, i] {
      tids[i].store(test::gettid_now());
      {
        Guard g(l);
        progress.fetch_add(1);
      }
      done[i].store(true);
    });
  // Every thread not yet through is asleep on the word; false while there is none.
  const auto all_due_asleep = [&] {
    bool any = false;
    for (int i = 0; i < kSleepers; ++i) {
      if (done[i].load()) continue;
      if (tids[i].load() == 0 || !test::asleep_on(tids[i].load(), &word)) return false;
      any = true;
    }
    return any;
  };
  while (!all_due_asleep()) std::this_thread::yield();
  EXPECT_EQ(LockAccess::sleepers(l), static_cast<unsigned>(kSleepers));

  // The release wakes one; this CPU takes the word straight back, bare, as a
  // fresh acquirer on the fast path. (Usually before the woken one runs. If the woken one ran
  // first, it took the word, woke the next on its release, and was through: the next one is then
  // the woken one. If this CPU lost the race outright, a woken one has the word and the rest of
  // the test still holds.)
  l.release(p);
  if (l.try_acquire(p)) {
    // A woken one found the word taken bare: it went back to sleep, still counted. Every thread
    // still due is asleep now and counted, so this CPU's release below must wake one.
    bool due = false;
    for (;;) {
      if (all_due_asleep()) {
        due = true;
        break;
      }
      bool all_done = true;
      for (int i = 0; i < kSleepers; ++i) all_done = all_done && done[i].load();
      if (all_done) break;
      std::this_thread::yield();
    }
    if (due) {
      unsigned not_done = 0;
      for (int i = 0; i < kSleepers; ++i) not_done += done[i].load() ? 0 : 1;
      EXPECT_EQ(LockAccess::sleepers(l), not_done) << "sleepers asleep behind a held word but not counted";
    }
    l.release(p);  // wakes one; each woken one's release wakes the next while others are counted
  }
  unsigned lost = 0;
  for (;;) {
    std::vector<int> due;
    for (int i = 0; i < kSleepers; ++i)
      if (!done[i].load()) due.push_back(tids[i].load());
    if (due.empty()) break;
    if (test::stuck(word, progress, due)) {
      ++lost;
      test::wake_all(word);  // let them finish; the verdict is already in
    }
    std::this_thread::yield();
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(progress.load(), static_cast<std::uint64_t>(kSleepers));
  EXPECT_EQ(word.load(), 0u);
  EXPECT_EQ(LockAccess::sleepers(l), 0u);
  EXPECT_EQ(LockAccess::waiters(l), 0u);
}

}  // namespace
}  // namespace smplock
