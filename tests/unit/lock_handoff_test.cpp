// The bounded pass-over (smplock/lock.hpp, "Bounded pass-over"; src/lock.cpp, wait_for_word): a
// waiter past the hunger budget marks itself hungry, and the next release hands it the word
// (kHandOff) instead of freeing it, so neither the releasing thread nor any other waiter can take
// the lock first. With the budgets at zero the waiter is hungry at once; the test waits for the
// mark itself (read from the lock), never for time, and each wait is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "internal.hpp"
#include "lock_access.hpp"
#include "needs_cpus.hpp"
#include "smplock/smplock.hpp"
#include "wait_budgets.hpp"

namespace smplock {

namespace {

using namespace std::chrono_literals;

// Yields until `done()` or a minute has passed (a bound, not a synchronisation: the verdict never
// depends on how long it took). Returns done().
template <class F>
bool wait_until(F done) {
  const auto end = std::chrono::steady_clock::now() + 60s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::yield();
  }
  return true;
}

TEST(HandOff, TheNextReleaseHandsTheWordToTheHungryWaiter) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const test::WaitBudgets budgets(0, 0, 0);  // every contended acquire is hungry at once
  Lock l(Level::PS, "handoff-unit");
  std::atomic<int> order{0};
  std::atomic<int> hungry_turn{-1}, thief_turn{-1};
  std::atomic<bool> hungry_may_go{false};

  Level p = l.acquire();
  std::thread hungry([&] {
    Guard g(l);
    hungry_turn.store(order.fetch_add(1));
    // Holds the lock until the main thread has tried to steal it, so what the main thread sees
    // after its release is the hand-off or this thread's hold, never a lock free again.
    wait_until([&] { return hungry_may_go.load(); });
  });
  ASSERT_TRUE(wait_until([&] { return (LockAccess::sleepers(l) & Lock::kHungry) != 0; }))
      << "the waiter never marked itself hungry";
  l.release(p);

  // Handed over: not free, and owned by no CPU until the hungry waiter takes it (then by that one).
  const std::uint32_t w = LockAccess::word(l);
  EXPECT_TRUE(w == Lock::kHandOff || ((w & Lock::kOwnerMask) != 0 && l.owner() != cpu_index()))
      << "word " << w;
  Level q;
  EXPECT_FALSE(l.try_acquire(q)) << "the releasing thread took back a handed-off lock";

  // A thief in the slow path (a waiter that is not the hungry one) waits too.
  std::thread thief([&] {
    Guard g(l);
    thief_turn.store(order.fetch_add(1));
  });
  ASSERT_TRUE(wait_until([&] { return hungry_turn.load() >= 0; }));
  hungry_may_go.store(true);
  hungry.join();
  thief.join();
  EXPECT_EQ(hungry_turn.load(), 0);
  EXPECT_EQ(thief_turn.load(), 1);
  EXPECT_EQ(LockAccess::word(l), 0u);
  EXPECT_EQ(LockAccess::sleepers(l), 0u);  // the mark is gone once the hungry waiter has the lock
}

// fork() while a waiter is hungry: in the child that waiter does not exist, so its mark must not
// survive there, or the child's release would hand the lock to nobody and the lock would be lost.
TEST(HandOff, AForkChildDropsTheMarksOfWaitersItDoesNotHave) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const test::WaitBudgets budgets(0, 0, 0);
  Lock l(Level::PS, "handoff-fork");
  Level p = l.acquire();
  std::thread hungry([&] { Guard g(l); });
  ASSERT_TRUE(wait_until([&] { return (LockAccess::sleepers(l) & Lock::kHungry) != 0; }));
  const pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // One thread here: the release must free the word, and the lock must be takeable again.
    const bool marked = (LockAccess::sleepers(l) & Lock::kHungry) != 0;
    l.release(p);
    Level q;
    const bool took = l.try_acquire(q);
    if (took) l.release(q);
    _exit(!marked && took ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  l.release(p);  // the parent's own hungry waiter is real: it gets the lock
  hungry.join();
  EXPECT_EQ(LockAccess::sleepers(l), 0u);
}

// A release with nobody hungry frees the word as before: the releasing thread may take it back.
TEST(HandOff, NoHungryWaiterNoHandOff) {
  Lock l(Level::PS, "handoff-none");
  Level p = l.acquire();
  l.release(p);
  EXPECT_EQ(LockAccess::word(l), 0u);
  Level q;
  ASSERT_TRUE(l.try_acquire(q));
  l.release(q);
}

// The report's owner of a handed-off word: nobody (-1), as for a free one.
TEST(HandOff, AHandedOffWordHasNoOwner) {
  static_assert((Lock::kHandOff & Lock::kOwnerMask) == 0);
  static_assert(sizeof(Lock) == 24);
}

}  // namespace
}  // namespace smplock
