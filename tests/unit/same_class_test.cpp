// Several locks of one class held together (Lock::acquire_in_class, ClassGuard): the one exception
// to R2. What the group looks like from the CPU (level, owners, the chain of members), the order it
// is taken and given back in, the statistics' count of it, and that std::unique_lock's unlock() of
// a member keeps the level. The crashes are in tests/death/rules_test.cpp, the two-way transfer
// under threads in tests/stress/same_class_stress_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <mutex>
#include <string>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

// Two locks of one class, in address order.
struct Pair {
  explicit Pair(const char* name) : x(Level::TP, name), y(Level::TP, name) {}
  Lock x, y;
  Lock& lo() { return std::less<Lock*>{}(&x, &y) ? x : y; }
  Lock& hi() { return std::less<Lock*>{}(&x, &y) ? y : x; }
};

const stats::ClassStats* find(const stats::Snapshot& s, const std::string& name) {
  for (const stats::ClassStats& c : s.classes)
    if (c.name == name) return &c;
  return nullptr;
}

TEST(SameClass, TwoLocksHeldTogetherInAddressOrder) {
  Pair p("same-class-pair");
  const Level first = p.lo().acquire_in_class();
  EXPECT_EQ(first, Level::Null);
  const Level second = p.hi().acquire_in_class();
  EXPECT_EQ(second, Level::TP);  // the CPU was already at the level
  EXPECT_EQ(current_level(), Level::TP);
  EXPECT_EQ(p.lo().owner(), cpu_index());
  EXPECT_EQ(p.hi().owner(), cpu_index());
  EXPECT_EQ(p.hi().taken_before_in_class(), &p.lo());
  EXPECT_EQ(p.lo().taken_before_in_class(), nullptr);

  p.hi().release(second);  // the top first; the CPU stays at TP with the other held
  EXPECT_EQ(current_level(), Level::TP);
  EXPECT_EQ(p.hi().owner(), -1);
  EXPECT_EQ(p.lo().owner(), cpu_index());
  EXPECT_EQ(p.hi().taken_before_in_class(), nullptr);
  p.lo().release(first);
  EXPECT_EQ(current_level(), Level::Null);
  EXPECT_EQ(p.lo().owner(), -1);
}

TEST(SameClass, ClassGuardSortsByAddress) {
  Lock a(Level::EV, "same-class-three"), b(Level::EV, "same-class-three"), c(Level::EV, "same-class-three");
  Lock* by_address[3] = {&a, &b, &c};
  std::sort(by_address, by_address + 3, std::less<Lock*>{});
  {
    ClassGuard g(*by_address[2], *by_address[0], *by_address[1]);  // any order in, address order taken
    EXPECT_EQ(current_level(), Level::EV);
    for (Lock* l : by_address) EXPECT_EQ(l->owner(), cpu_index());
    EXPECT_EQ(by_address[2]->taken_before_in_class(), by_address[1]);
    EXPECT_EQ(by_address[1]->taken_before_in_class(), by_address[0]);
    EXPECT_EQ(by_address[0]->taken_before_in_class(), nullptr);
  }
  EXPECT_EQ(current_level(), Level::Null);
  for (Lock* l : by_address) EXPECT_EQ(l->owner(), -1);
}

TEST(SameClass, AGroupSitsAboveALowerLockAndGoesBackToIt) {
  Lock ps(Level::PS, "same-class-below");
  Pair p("same-class-above");
  const Level before = ps.acquire();
  {
    ClassGuard g(p.x, p.y);
    EXPECT_EQ(current_level(), Level::TP);
  }
  EXPECT_EQ(current_level(), Level::PS);
  ps.release(before);
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(SameClass, StatisticsCountTheGroupsFurtherMembers) {
  stats::reset();
  Pair p("same-class-stats");
  for (int i = 0; i < 5; ++i) ClassGuard g(p.x, p.y);
  const stats::Snapshot s = stats::snapshot();
  const stats::ClassStats* c = find(s, "same-class-stats");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->counters.acquisitions, 10u);
  EXPECT_EQ(c->counters.same_class, 5u);  // the second lock of each pair
}

TEST(SameClass, TheTopAgainIsANestedAcquire) {
  Pair p("same-class-nested");
  const Level first = p.lo().acquire_in_class();
  const Level second = p.hi().acquire_in_class();
  const Level again = p.hi().acquire_in_class();  // R3: the top lock again
  EXPECT_EQ(again, Level::TP);
  p.hi().release(again);  // the nested release: still held
  EXPECT_EQ(p.hi().owner(), cpu_index());
  p.hi().release(second);
  p.lo().release(first);
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(SameClass, UnlockOfAMemberKeepsTheLevel) {
  Pair p("same-class-unlock");
  (void)p.lo().acquire_in_class();
  (void)p.hi().acquire_in_class();
  p.hi().unlock();  // what std::unique_lock would call: the member's acquire returned the level
  EXPECT_EQ(current_level(), Level::TP);
  EXPECT_EQ(p.lo().owner(), cpu_index());
  p.lo().unlock();
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(SameClass, APlainAcquireAfterTheGroupIsEndedWorksAsEver) {
  Pair p("same-class-after");
  { ClassGuard g(p.x, p.y); }
  {
    Guard g(p.x);  // the group's marks are gone with it
    EXPECT_EQ(current_level(), Level::TP);
  }
  Guard g(p.y);
  EXPECT_EQ(p.y.taken_before_in_class(), nullptr);
}

}  // namespace
}  // namespace smplock
