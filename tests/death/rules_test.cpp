// One death test per rule of DESIGN §2 that the core enforces (R8 is the pool's): each shows the
// crash and checks that the report names the rule, the locks involved and where they were taken.
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

class Rules : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(Rules, R1AcquireBelowTheLevelCrashes) {
  EXPECT_DEATH(
      {
        Lock np(Level::NP, "NP-pool");
        Lock ps(Level::PS, "PS-proc");
        (void)np.acquire();
        (void)ps.acquire();
      },
      "R1 acquire upward only.*\n.*at .*rules_test.cpp.*\n  lock +\"PS-proc\" level 0x4a PS(.|\n)*held +1 lock(.|\n)*"
      "\"NP-pool\" level 0x68 NP(.|\n)*acquired at .*rules_test.cpp");
}

TEST_F(Rules, R1TryAcquireBelowTheLevelCrashesToo) {
  EXPECT_DEATH(
      {
        Lock qu(Level::QU, "QU");
        Lock pm(Level::PM, "PM");
        (void)qu.acquire();
        Level prev;
        (void)pm.try_acquire(prev);
      },
      "R1 acquire upward only(.|\n)*\"PM\"");
}

TEST_F(Rules, R2TwoLocksOfOneLevelCrash) {
  EXPECT_DEATH(
      {
        Lock a(Level::PS, "process-A");
        Lock b(Level::PS, "process-B");
        (void)a.acquire();
        (void)b.acquire();
      },
      "R2 no lateral locking(.|\n)*lock +\"process-B\"(.|\n)*held +1 lock(.|\n)*\"process-A\"");
}

TEST_F(Rules, R3ReleaseToOwnLevelWithoutNestingCrashes) {
  EXPECT_DEATH(
      {
        Lock a(Level::TP, "thread-private");
        (void)a.acquire();
        a.release(Level::TP);
      },
      "R3 nesting(.|\n)*matches no nested acquire(.|\n)*\"thread-private\"");
}

TEST_F(Rules, R4ReleasingALockNotOwnedCrashes) {
  EXPECT_DEATH(
      {
        Lock a(Level::EV, "event-flag");
        a.release(Level::Null);
      },
      "R4 release the top lock, as its owner(.|\n)*does not own(.|\n)*\"event-flag\"(.|\n)*owner none");
}

TEST_F(Rules, R4ReleasingAnotherCpusLockCrashes) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  EXPECT_DEATH(
      {
        static Lock a(Level::EV, "event-flag");
        std::thread([] { (void)a.acquire(); for (;;) std::this_thread::sleep_for(std::chrono::seconds(1)); }).detach();
        while (a.owner() < 0) std::this_thread::yield();
        a.release(Level::Null);
      },
      "R4 release the top lock, as its owner(.|\n)*does not own(.|\n)*\"event-flag\".*owner cpu");
}

TEST_F(Rules, R4ReleasingALockThatIsNotTheTopCrashes) {
  EXPECT_DEATH(
      {
        Lock pm(Level::PM, "phys-mem");
        Lock np(Level::NP, "pool");
        const Level p = pm.acquire();
        (void)np.acquire();
        pm.release(p);
      },
      "R4 release the top lock, as its owner(.|\n)*not at the CPU's current level(.|\n)*lock +\"phys-mem\"(.|\n)*"
      "held +2 locks(.|\n)*\"phys-mem\"(.|\n)*\"pool\"");
}

TEST_F(Rules, R5ReleasingUpwardCrashes) {
  EXPECT_DEATH(
      {
        Lock se(Level::SE, "security");
        (void)se.acquire();
        se.release(Level::HI);
      },
      "R5 never release upward or below a held lock(.|\n)*above the CPU's level(.|\n)*previous +0xfc HI");
}

TEST_F(Rules, R5ReleasingBelowAHeldLockCrashes) {
  EXPECT_DEATH(
      {
        Lock pm(Level::PM, "phys-mem");
        Lock ps(Level::PS, "proc-state");
        (void)pm.acquire();
        (void)ps.acquire();
        ps.release(Level::Null);
      },
      "R5 never release upward or below a held lock(.|\n)*below a lock still held(.|\n)*previous +0x00 Null"
      "(.|\n)*\"phys-mem\"");
}

TEST_F(Rules, R6SetSoftintWithALockHeldCrashes) {
  EXPECT_DEATH(
      {
        Lock tc(Level::TC, "com-queue");
        (void)tc.acquire();
        set_softint(true);
      },
      "R6 softint control only with no locks(.|\n)*at level 0x52 TC(.|\n)*\"com-queue\"");
}

// Null and Softint are CPU states, not lock levels (issue 11, defect 8): a lock at Softint could be
// held while set_softint(true) succeeds, and a softint routine would then enter its critical
// section on the CPU that holds it. Making such a lock is the crash, wherever it is made.
TEST_F(Rules, R6ALockAtSoftintCrashesWhenMade) {
  EXPECT_DEATH(
      {
        Lock l(Level::Softint, "softint-lock");
        (void)l.acquire();
        (void)set_softint(true);
      },
      "R6 softint control only with no locks(.|\n)*a lock at level Null or Softint(.|\n)*at .*rules_test.cpp"
      "(.|\n)*\"softint-lock\" level 0x01");
}

TEST_F(Rules, R6ALockAtNullCrashesWhenMade) {
  EXPECT_DEATH({ Lock l(Level::Null, "null-lock"); }, "R6 softint control only with no locks(.|\n)*\"null-lock\"");
}

// A static lock is constant-initialised when it can be. At these levels it cannot (the check calls
// a function that is not constexpr), so it is made at run time, on first pass, and crashes there;
// a `constinit` one does not compile (tests/compile/lock_level_*.cpp).
TEST_F(Rules, R6AStaticLockAtSoftintCrashesWhenMade) {
  EXPECT_DEATH(
      {
        static Lock l(Level::Softint, "static-softint-lock");
        (void)l.acquire();
      },
      "R6 softint control only with no locks(.|\n)*\"static-softint-lock\"");
}

// Several locks of one class (acquire_in_class, ClassGuard): address order, checked on every
// acquire and release; anything else at the level is still R2.
struct SameClassPair {
  explicit SameClassPair(const char* name) : x(Level::TP, name), y(Level::TP, name) {}
  Lock x, y;
  Lock& lo() { return std::less<Lock*>{}(&x, &y) ? x : y; }
  Lock& hi() { return std::less<Lock*>{}(&x, &y) ? y : x; }
};

TEST_F(Rules, R2SameClassOutOfAddressOrderCrashes) {
  EXPECT_DEATH(
      {
        SameClassPair p("account");
        (void)p.hi().acquire_in_class();
        (void)p.lo().acquire_in_class();
      },
      "R2 no lateral locking(.|\n)*out of address order(.|\n)*at .*rules_test.cpp(.|\n)*held +1 lock(.|\n)*"
      "\"account\"");
}

TEST_F(Rules, R2PlainAcquireBesideASameClassGroupCrashes) {
  EXPECT_DEATH(
      {
        SameClassPair p("account");
        Lock third(Level::TP, "account");
        (void)p.lo().acquire_in_class();
        (void)p.hi().acquire_in_class();
        (void)third.acquire();
      },
      "R2 no lateral locking(.|\n)*\"account\"(.|\n)*same class, taken before it: +\"account\"");
}

TEST_F(Rules, R2SameClassAfterAPlainAcquireCrashes) {
  EXPECT_DEATH(
      {
        SameClassPair p("account");
        (void)p.lo().acquire();
        (void)p.hi().acquire_in_class();
      },
      "R2 no lateral locking(.|\n)*not taken through acquire_in_class");
}

TEST_F(Rules, R2SameClassOfAnotherClassCrashes) {
  EXPECT_DEATH(
      {
        SameClassPair p("account");
        Lock other(Level::TP, "ledger-line");
        Lock& first = std::less<Lock*>{}(&p.x, &other) ? p.x : other;
        Lock& second = &first == &other ? p.x : other;
        (void)first.acquire_in_class();
        (void)second.acquire_in_class();
      },
      "R2 no lateral locking(.|\n)*another class");
}

TEST_F(Rules, R4SameClassReleasedOutOfOrderCrashes) {
  EXPECT_DEATH(
      {
        SameClassPair p("account");
        const Level first = p.lo().acquire_in_class();
        (void)p.hi().acquire_in_class();
        p.lo().release(first);
      },
      "R4 release the top lock, as its owner(.|\n)*out of order");
}

TEST_F(Rules, R5SameClassMemberReleasedBelowItsLevelCrashes) {
  EXPECT_DEATH(
      {
        SameClassPair p("account");
        (void)p.lo().acquire_in_class();
        (void)p.hi().acquire_in_class();
        p.hi().release(Level::Null);
      },
      "R5 never release upward or below a held lock(.|\n)*others of the group are held");
}

TEST_F(Rules, R7ThreadEndingWithALockHeldCrashes) {
  // In the uniprocessor build this thread is the only CPU of the death test's child process.
  EXPECT_DEATH(
      {
        static Lock dv(Level::DV, "device");
        std::thread([] { (void)dv.acquire(); }).join();
      },
      "R7 no lock outlives its CPU(.|\n)*thread is ending while it holds locks(.|\n)*\"device\"");
}

TEST_F(Rules, R7DestroyingAHeldLockCrashes) {
  EXPECT_DEATH(
      {
        auto* vl = new Lock(Level::VL, "volume");
        (void)vl->acquire();
        delete vl;
      },
      "R7 no lock outlives its CPU(.|\n)*destroying a lock that is held(.|\n)*\"volume\"");
}

// raise_level(): the raised level takes its slot like a lock, and the same rules guard it.
TEST_F(Rules, R1RaiseBelowTheLevelCrashes) {
  EXPECT_DEATH(
      {
        Lock np(Level::NP, "NP-pool");
        (void)np.acquire();
        (void)raise_level(Level::PS);
      },
      "R1 acquire upward only.*raise_level\\(\\) below the CPU's level(.|\n)*to +0x4a PS(.|\n)*\"NP-pool\"");
}

TEST_F(Rules, R2RaiseToTheCurrentLevelCrashes) {
  EXPECT_DEATH(
      {
        Lock np(Level::NP, "NP-pool");
        (void)np.acquire();
        (void)raise_level(Level::NP);
      },
      "R2 no lateral locking.*raise_level\\(\\) to the CPU's current level(.|\n)*\"NP-pool\"");
}

TEST_F(Rules, R2LockAtTheRaisedLevelCrashes) {
  EXPECT_DEATH(
      {
        Lock kt(Level::KT, "kthread");
        (void)raise_level(Level::KT);
        (void)kt.acquire();
      },
      "R2 no lateral locking(.|\n)*\"kthread\"(.|\n)*level raised \\(raise_level\\), no lock");
}

TEST_F(Rules, R4ReleaseALockUnderARaiseCrashes) {
  EXPECT_DEATH(
      {
        Lock ps(Level::PS, "PS-proc");
        const Level p = ps.acquire();
        (void)raise_level(Level::NP);
        ps.release(p);
      },
      "R4 release the top lock, as its owner(.|\n)*not at the CPU's current level(.|\n)*\"PS-proc\"");
}

TEST_F(Rules, R4LowerWhileALockIsOnTopCrashes) {
  EXPECT_DEATH(
      {
        Lock qu(Level::QU, "quota");
        const Level p = raise_level(Level::NP);
        (void)qu.acquire();
        lower_level(p);
      },
      "R4 release the top lock, as its owner.*lower_level\\(\\) while a lock is at the top(.|\n)*\"quota\"");
}

TEST_F(Rules, R4LowerWithoutARaiseCrashes) {
  EXPECT_DEATH(lower_level(Level::Null),
               "R4 release the top lock, as its owner.*lower_level\\(\\) with no raise_level\\(\\)");
}

TEST_F(Rules, R5LowerBelowAHeldLockCrashes) {
  EXPECT_DEATH(
      {
        Lock pm(Level::PM, "phys-mem");
        (void)pm.acquire();
        (void)raise_level(Level::NP);
        lower_level(Level::Null);
      },
      "R5 never release upward or below a held lock.*lower_level\\(\\) below a lock still held(.|\n)*"
      "previous +0x00 Null(.|\n)*\"phys-mem\"");
}

TEST_F(Rules, R7ThreadEndingRaisedCrashes) {
  EXPECT_DEATH(std::thread([] { (void)raise_level(Level::HI); }).join(),
               "R7 no lock outlives its CPU(.|\n)*ending with its level raised");
}

TEST_F(Rules, R9CheckLevelAtAnotherLevelCrashes) {
  EXPECT_DEATH(
      {
        Lock pt(Level::PT, "page-table");
        (void)pt.acquire();
        check_level(Level::GP);
      },
      "R9 level assertion(.|\n)*expected +0x40 GP(.|\n)*at level 0x30 PT");
}

TEST_F(Rules, UnlockOfALockNotHeldCrashes) {
  EXPECT_DEATH(
      {
        Lock a(Level::HT, "handles");
        a.unlock();
      },
      "R4 release the top lock, as its owner");
}

void print_crash(const CrashInfo& info) {
  fprintf(stderr, "hook saw rule %d on lock %s, report of %u bytes\n", static_cast<int>(info.rule),
          info.lock ? info.lock->name() : "-", info.report_length);
}

TEST_F(Rules, CrashHookSeesTheReportThenTheProgramAborts) {
  EXPECT_DEATH(
      {
        set_crash_hook(print_crash);
        Lock a(Level::PS, "A");
        Lock b(Level::PS, "B");
        (void)a.acquire();
        (void)b.acquire();
      },
      "hook saw rule 2 on lock B, report of [0-9]+ bytes\nsmplock: aborting");
}

TEST_F(Rules, UniprocessorBuildCrashesWhenASecondCpuAttaches) {
#ifndef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "only the uniprocessor build forbids a second CPU";
#else
  EXPECT_DEATH(
      {
        (void)cpu_index();
        std::thread([] { (void)cpu_index(); }).join();
      },
      "FATAL.*second CPU is attaching to a uniprocessor build");
#endif
}

}  // namespace
}  // namespace smplock
