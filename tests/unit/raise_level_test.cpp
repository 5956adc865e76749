// raise_level() / lower_level() / LevelGuard: the level raised without a lock holds back this
// CPU's interrupts and softints, and fits between locks like a lock of that level would.
#include <gtest/gtest.h>

#include <atomic>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

TEST(RaiseLevel, RaisesAndLowerRestores) {
  ASSERT_EQ(current_level(), Level::Null);
  const Level prev = raise_level(Level::HI);
  EXPECT_EQ(prev, Level::Null);
  EXPECT_EQ(current_level(), Level::HI);
  lower_level(prev);
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(RaiseLevel, FitsBetweenLocks) {
  Lock ps(Level::PS, "raise-PS"), qu(Level::QU, "raise-QU");
  const Level a = ps.acquire();
  const Level b = raise_level(Level::NP);
  EXPECT_EQ(b, Level::PS);
  const Level c = qu.acquire();  // above the raised level: allowed
  EXPECT_EQ(c, Level::NP);
  EXPECT_EQ(current_level(), Level::QU);
  qu.release(c);
  EXPECT_EQ(current_level(), Level::NP);
  lower_level(b);
  EXPECT_EQ(current_level(), Level::PS);
  ps.release(a);
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(RaiseLevel, LowerToAnyLevelTheRulesAllow) {
  // Like a release, a lower may go further down than the raise came from, as long as it stays at
  // or above the next lock held.
  Lock pm(Level::PM, "raise-PM");
  const Level a = pm.acquire();
  const Level b = raise_level(Level::NP);
  EXPECT_EQ(b, Level::PM);
  // From Softint on a CPU with PM held would be R5; PM itself is the lowest allowed.
  lower_level(Level::PM);
  EXPECT_EQ(current_level(), Level::PM);
  pm.release(a);
  (void)raise_level(Level::SE);
  lower_level(Level::Softint);  // no lock held: Softint is allowed
  EXPECT_EQ(current_level(), Level::Softint);
  EXPECT_FALSE(set_softint(true));  // back to Null
}

TEST(RaiseLevel, GuardRaisesForItsScope) {
  {
    LevelGuard g(Level::KT);
    EXPECT_EQ(g.previous(), Level::Null);
    EXPECT_EQ(current_level(), Level::KT);
  }
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(RaiseLevel, CrashReportShowsTheRaise) {
  // The held-lock list names the raise, not a lock.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        (void)raise_level(Level::NP);
        check_level(Level::PS);
      },
      "R9 level assertion(.|\n)*held +1 lock(.|\n)*level raised \\(raise_level\\), no lock(.|\n)*raised at "
      ".*raise_level_test.cpp");
}

std::atomic<int> g_calls{0};
void count_call(void*) { g_calls.fetch_add(1, std::memory_order_relaxed); }

TEST(RaiseLevel, HoldsBackInterruptsAtOrBelowAndDeliversOnLower) {
  irq::attach(5, count_call, nullptr);
  const int before = g_calls.load();
  const Level prev = raise_level(irq_level(5));  // IRQ 5's own level: held back
  irq::raise(5, cpu_index());
  EXPECT_EQ(g_calls.load(), before);
  lower_level(prev);  // delivered here
  EXPECT_EQ(g_calls.load(), before + 1);

  const Level below = raise_level(irq_level(7));  // below IRQ 5 (0xE0 < 0xE2): not held back
  irq::raise(5, cpu_index());
  EXPECT_EQ(g_calls.load(), before + 2);
  lower_level(below);
  irq::detach(5, count_call, nullptr);
}

std::atomic<int> g_softints{0};
void count_softint(void*, int) { g_softints.fetch_add(1, std::memory_order_relaxed); }

TEST(RaiseLevel, HoldsBackSoftints) {
  softint::set_routine(count_softint, nullptr);
  const int before = g_softints.load();
  const Level prev = raise_level(Level::Softint);
  softint::request(cpu_index());
  EXPECT_EQ(g_softints.load(), before);
  lower_level(prev);
  EXPECT_EQ(g_softints.load(), before + 1);
  softint::set_routine(nullptr, nullptr);
}

}  // namespace
}  // namespace smplock
