// tests/death/forged_release_test.cpp: R5 with no lock left held (issue 11, "also seen"). With
// nothing held below, a release or lower_level() may only go back to Null or Softint (DESIGN R5):
// a forged level (say 0xEF) left the CPU holding interrupts back with nothing to release. Before
// the fix both calls below returned, the CPU at 0xEF.
#include <gtest/gtest.h>

#include "smplock/smplock.hpp"

using namespace smplock;

TEST(ForgedReleaseDeathTest, ReleaseToALevelAboveSoftintWithNothingHeldCrashes) {
  Lock hi(Level::HI, "forged");
  EXPECT_DEATH(
      {
        (void)hi.acquire();
        hi.release(irq_level(0));
      },
      "R5 never release upward or below a held lock.*releasing to a level above Softint with no lock left held");
}

TEST(ForgedReleaseDeathTest, LowerLevelToALevelAboveSoftintWithNothingHeldCrashes) {
  EXPECT_DEATH(
      {
        (void)raise_level(Level::HI);
        lower_level(Level::NP);
      },
      "R5 never release upward or below a held lock.*lower_level\\(\\) to a level above Softint with nothing left held");
}

TEST(ForgedRelease, ReleasesToNullSoftintOrTheAcquiredLevelStillWork) {
  Lock hi(Level::HI, "forged ok");
  (void)hi.acquire();
  hi.release(Level::Softint);  // allowed: softints off, nothing held
  EXPECT_EQ(current_level(), Level::Softint);
  const Level from = hi.acquire();
  EXPECT_EQ(from, Level::Softint);
  hi.release(Level::Null);
  EXPECT_EQ(current_level(), Level::Null);
  Lock np(Level::NP, "forged np");
  Guard g(np);
  (void)hi.acquire();
  hi.release(Level::NP);  // the next lock still held: the rule's lower bound
  EXPECT_EQ(current_level(), Level::NP);
}
