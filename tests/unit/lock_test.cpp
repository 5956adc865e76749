// Every operation of Lock, Guard, OrderedGuard and the CPU calls, observed from outside.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

constinit Lock g_global{Level::SE, "global"};  // constexpr construction: no static initialiser

TEST(Lock, AcquireRaisesAndReleaseRestores) {
  Lock l(Level::PS, "PS");
  ASSERT_EQ(current_level(), Level::Null);
  const Level prev = l.acquire();
  EXPECT_EQ(prev, Level::Null);
  EXPECT_EQ(current_level(), Level::PS);
  EXPECT_EQ(l.owner(), cpu_index());
  l.release(prev);
  EXPECT_EQ(current_level(), Level::Null);
  EXPECT_EQ(l.owner(), -1);
}

TEST(Lock, NameAndLevel) {
  Lock l(static_cast<Level>(0x69), "mine");
  EXPECT_EQ(l.level(), static_cast<Level>(0x69));
  EXPECT_STREQ(l.name(), "mine");
  EXPECT_EQ(g_global.level(), Level::SE);
}

TEST(Lock, NestedLevelsUnwindInOrder) {
  Lock pm(Level::PM, "PM"), ps(Level::PS, "PS"), np(Level::NP, "NP");
  const Level a = pm.acquire();
  const Level b = ps.acquire();
  const Level c = np.acquire();
  EXPECT_EQ(a, Level::Null);
  EXPECT_EQ(b, Level::PM);
  EXPECT_EQ(c, Level::PS);
  EXPECT_EQ(current_level(), Level::NP);
  np.release(c);
  EXPECT_EQ(current_level(), Level::PS);
  ps.release(b);
  EXPECT_EQ(current_level(), Level::PM);
  pm.release(a);
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(Lock, ReacquiringTheTopLockIsANoOp) {  // R3
  Lock l(Level::TP, "TP");
  const Level outer = l.acquire();
  const Level inner = l.acquire();
  EXPECT_EQ(inner, Level::TP);
  EXPECT_EQ(current_level(), Level::TP);
  l.release(inner);  // the nested release: a no-op
  EXPECT_EQ(current_level(), Level::TP);
  EXPECT_EQ(l.owner(), cpu_index());
  l.release(outer);
  EXPECT_EQ(current_level(), Level::Null);
  EXPECT_EQ(l.owner(), -1);
}

TEST(Lock, SoftintLevelIsKeptAcrossALock) {
  EXPECT_TRUE(set_softint(false));
  EXPECT_EQ(current_level(), Level::Softint);
  Lock l(Level::EV, "EV");
  const Level prev = l.acquire();
  EXPECT_EQ(prev, Level::Softint);
  l.release(prev);
  EXPECT_EQ(current_level(), Level::Softint);
  EXPECT_FALSE(set_softint(true));
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(Lock, ReleaseStraightToNullFromSoftint) {
  set_softint(false);
  Lock l(Level::EV, "EV");
  (void)l.acquire();
  l.release(Level::Null);  // no lock left: Null is allowed and re-enables softints
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(Lock, TryAcquireWhenFreeAndWhenBusy) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  Lock l(Level::TC, "TC");
  Level prev{};
  ASSERT_TRUE(l.try_acquire(prev));
  EXPECT_EQ(prev, Level::Null);
  EXPECT_EQ(current_level(), Level::TC);
  std::thread other([&] {
    Level p{};
    EXPECT_FALSE(l.try_acquire(p));
    EXPECT_EQ(current_level(), Level::Null);  // the level is left as it was
  });
  other.join();
  l.release(prev);
}

TEST(Lock, StandardGuardsWork) {
  Lock l(Level::PR, "PR");
  {
    std::lock_guard g(l);
    EXPECT_EQ(current_level(), Level::PR);
    EXPECT_EQ(l.owner(), cpu_index());
  }
  EXPECT_EQ(current_level(), Level::Null);
  {
    std::unique_lock u(l, std::try_to_lock);
    EXPECT_TRUE(u.owns_lock());
    u.unlock();
    EXPECT_EQ(current_level(), Level::Null);
  }
}

TEST(Lock, NestedLockUnlockPairs) {
  Lock l(Level::PR, "PR");
  l.lock();
  l.lock();
  l.unlock();
  EXPECT_EQ(current_level(), Level::PR);
  l.unlock();
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(Guard, RestoresOnScopeExit) {
  Lock a(Level::DV, "DV");
  {
    Guard g(a);
    EXPECT_EQ(g.previous(), Level::Null);
    EXPECT_EQ(current_level(), Level::DV);
    Guard h(g_global);
    EXPECT_EQ(current_level(), Level::SE);
  }
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(OrderedGuard, TakesLocksLowestFirstWhateverTheArgumentOrder) {
  Lock np(Level::NP, "NP"), pm(Level::PM, "PM"), tp(Level::TP, "TP");
  {
    OrderedGuard g(np, pm, tp);  // would break R1 if taken in argument order
    EXPECT_EQ(current_level(), Level::NP);
    EXPECT_EQ(np.owner(), cpu_index());
    EXPECT_EQ(pm.owner(), cpu_index());
    EXPECT_EQ(tp.owner(), cpu_index());
  }
  EXPECT_EQ(current_level(), Level::Null);
  EXPECT_EQ(np.owner(), -1);
}

TEST(Cpu, IndexIsStableAndDistinctPerThread) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  const int mine = cpu_index();
  EXPECT_GE(mine, 0);
  EXPECT_EQ(cpu_index(), mine);
  int other = -1;
  std::thread t([&] { other = cpu_index(); });
  t.join();
  EXPECT_NE(other, mine);
}

TEST(Cpu, IndexIsRecycledWhenTheThreadEnds) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  (void)cpu_index();
  int first = -1, second = -1;
  std::thread([&] { first = cpu_index(); }).join();
  std::thread([&] { second = cpu_index(); }).join();
  EXPECT_EQ(first, second);
  EXPECT_EQ(cpus_attached(), 1u);  // only this thread now
}

TEST(Cpu, SetSoftintReturnsThePreviousSetting) {
  EXPECT_TRUE(set_softint(true));
  EXPECT_TRUE(set_softint(false));
  EXPECT_FALSE(set_softint(false));
  EXPECT_FALSE(set_softint(true));
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(Cpu, CheckLevelPassesAtTheLevel) {
  check_level(Level::Null);
  Lock l(Level::QU, "QU");
  Guard g(l);
  check_level(Level::QU);
}

TEST(Lock, MaxCpusIsTheConfiguredNumber) { EXPECT_EQ(max_cpus(), static_cast<unsigned>(SMPLOCK_MAX_CPUS)); }

TEST(Lock, ContendedAcquireWaitsAndHandsOver) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  Lock l(Level::PS, "handover");
  std::atomic<int> stage{0};
  long value = 0;
  const Level prev = l.acquire();
  std::thread waiter([&] {
    stage.store(1);
    Guard g(l);  // blocks until the main thread releases
    value += 1;
  });
  while (stage.load() == 0) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // long enough for the waiter to park
  value = 41;
  l.release(prev);
  waiter.join();
  EXPECT_EQ(value, 42);
  EXPECT_EQ(l.owner(), -1);
}

}  // namespace
}  // namespace smplock
