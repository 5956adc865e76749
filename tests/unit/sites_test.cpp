// Call sites name the user's line (issue 15 part 1), for each way of taking a lock: acquire(),
// Guard, std::lock_guard, std::unique_lock (constructor and lock()), std::scoped_lock of one lock,
// OrderedGuard, ClassGuard, acquire_in_class() and a wrapper of the program's own. Checked in the
// held-lock record (what the crash report prints as "acquired at"), in the contended call sites of
// a snapshot and in the text report; contention is forced (the lock held until the taker is known
// to wait), never timed. And the report's names are shortened from the left.
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <source_location>
#include <string>
#include <thread>

#include "lock_access.hpp"
#include "my_guard.hpp"
#include "needs_cpus.hpp"
#include "smplock/report.hpp"
#include "smplock/smplock.hpp"

namespace smplock {

namespace {

constexpr const char* kThisFile = "sites_test.cpp";

using testing_support::MyGuard;  // a wrapper of the program's own (my_guard.hpp)

// Each way takes `l` and gives it back, or, with `ask`, returns the line it takes the lock on
// instead (the return and the acquire share the line). `check` runs while the lock is held.
using Check = void (*)(const Lock&);
void no_check(const Lock&) {}

int via_acquire(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; const Level p = l.acquire();
  check(l);
  l.release(p);
  return 0;
}
int via_guard(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; Guard g(l);
  check(l);
  return 0;
}
int via_lock_guard(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; std::lock_guard g(l);
  check(l);
  return 0;
}
int via_unique_lock(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; std::unique_lock<Lock> g(l);
  check(l);
  return 0;
}
int via_unique_lock_deferred(Lock& l, bool ask, Check check) {
  std::unique_lock<Lock> g(l, std::defer_lock);
  if (ask) return __LINE__; g.lock();
  check(l);
  return 0;
}
int via_scoped_lock(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; std::scoped_lock g(l);
  check(l);
  return 0;
}
int via_ordered_guard(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; OrderedGuard g(l);
  check(l);
  return 0;
}
int via_class_guard(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; ClassGuard g(l);
  check(l);
  return 0;
}
int via_acquire_in_class(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; const Level p = l.acquire_in_class();
  check(l);
  l.release(p);
  return 0;
}
int via_user_wrapper(Lock& l, bool ask, Check check) {
  if (ask) return __LINE__; MyGuard g(l);
  check(l);
  return 0;
}

struct Way {
  const char* name;
  int (*take)(Lock&, bool, Check);
};

const Way kWays[] = {
    {"acquire", via_acquire},
    {"Guard", via_guard},
    {"std::lock_guard", via_lock_guard},
    {"std::unique_lock", via_unique_lock},
    {"std::unique_lock::lock", via_unique_lock_deferred},
    {"std::scoped_lock", via_scoped_lock},
    {"OrderedGuard", via_ordered_guard},
    {"ClassGuard", via_class_guard},
    {"acquire_in_class", via_acquire_in_class},
    {"user wrapper", via_user_wrapper},
};

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// The line the last way taken should have recorded (set before the take, read in the check).
int g_expected_line = 0;
int g_checked = 0;

void check_held_site(const Lock& l) {
  const detail::HeldEntry& e = detail::this_cpu().held[to_int(l.level())];
  ASSERT_EQ(e.lock(), &l);
  EXPECT_TRUE(ends_with(e.where.file_name(), kThisFile)) << e.where.file_name();
  EXPECT_EQ(e.where.line(), static_cast<unsigned>(g_expected_line));
  ++g_checked;
}

// A class name never used before in this process (counts stay exact under --gtest_repeat). A
// class keeps its name's pointer for good, so the names live as long as the program.
const std::string& unique_name(const std::string& base) {
  static std::deque<std::string> names;
  return names.emplace_back(base + "#" + std::to_string(names.size()));
}

// The held-lock record, which the crash report prints as "acquired at", names the user's line.
TEST(Sites, HeldLockRecordNamesTheUsersLine) {
  for (const Way& way : kWays) {
    SCOPED_TRACE(way.name);
    Lock l(Level::PS, "sites-held");
    g_expected_line = way.take(l, true, no_check);
    ASSERT_GT(g_expected_line, 0);
    const int before = g_checked;
    way.take(l, false, check_held_site);
    EXPECT_EQ(g_checked, before + 1);
  }
}

// The contended call site of each way, in the snapshot and in the text report, is the user's line.
TEST(Sites, ContendedCallSitesNameTheUsersLine) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  for (const Way& way : kWays) {
    SCOPED_TRACE(way.name);
    // A class of its own per way (and per run), so its one site is this one.
    const std::string& name = unique_name(std::string("sites-") + way.name);
    Lock l(Level::PS, name.c_str());
    const int line = way.take(l, true, no_check);
    const Level held = l.acquire();
    std::thread taker([&] { way.take(l, false, no_check); });
    // Held until the taker is known to be in the contended path: the contention is certain.
    while (LockAccess::waiters(l) < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    l.release(held);
    taker.join();

    stats::Snapshot s = stats::snapshot();
    stats::symbolize(s);  // leaves sites that already name themselves alone
    const stats::ClassStats* c = s.find(name, Level::PS);
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(c->call_sites.size(), 1u);
    const stats::CallSite& site = c->call_sites[0];
    EXPECT_EQ(site.count, 1u);
    EXPECT_TRUE(ends_with(site.file, kThisFile)) << site.file;
    EXPECT_EQ(site.line, static_cast<unsigned>(line)) << site.function;
    EXPECT_NE(site.function.find("via_"), std::string::npos) << site.function;

    std::string text;
    stats::ReportOptions options;
    stats::report_text(s, [&](std::string_view part) { text += part; }, options);
    const std::string label = std::string("(") + kThisFile + ":" + std::to_string(line) + ")";
    EXPECT_NE(text.find(label), std::string::npos) << label << " not in\n" << text;
  }
}

// Contention at one line, twice, is one site counted twice.
TEST(Sites, OneLineIsOneSite) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const std::string& name = unique_name("sites-one-line");
  Lock l(Level::PS, name.c_str());
  for (int round = 0; round < 2; ++round) {
    const Level held = l.acquire();
    std::thread taker([&] { via_guard(l, false, no_check); });
    while (LockAccess::waiters(l) < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    l.release(held);
    taker.join();
  }
  stats::Snapshot s = stats::snapshot();
  const stats::ClassStats* c = s.find(name, Level::PS);
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->call_sites.size(), 1u);
  EXPECT_EQ(c->call_sites[0].count, 2u);
  EXPECT_EQ(c->call_sites[0].line, static_cast<unsigned>(via_guard(l, true, no_check)));
}

// Long names are cut from the left, whole qualifiers first, so the function and file:line stay.
TEST(Sites, ReportShortensNamesFromTheLeft) {
  stats::Snapshot s;
  s.end_ns = 1'000'000'000;
  s.cpus = 1;
  stats::ClassStats c;
  c.id = 1;
  c.name = "sites-names";
  c.level = Level::PS;
  c.counters.acquisitions = 100;
  c.counters.contended = 10;
  c.call_sites.push_back(stats::CallSite{
      1, 6, "void smplock::pound::detail::{anonymous}::Kernel::copy_user_pages(smplock::pound::detail::Process&, int)",
      "/src/pound/kernel/memory.cpp", 42});
  c.call_sites.push_back(stats::CallSite{2, 4, "main()::<lambda()>", "/src/kv.cpp", 7});
  c.call_sites.push_back(stats::CallSite{
      3, 2,
      "void ns::Table::rehash_everything_now(std::vector<int> const&, std::map<int, int>&, unsigned long, "
      "unsigned long, unsigned long)",
      "/src/table.cpp", 9});
  s.classes.push_back(c);
  s.levels = {};
  std::string text;
  stats::report_text(s, [&](std::string_view part) { text += part; }, stats::ReportOptions{});
  // Namespaces go first (those of the parameters' types always), the class stays.
  EXPECT_NE(text.find("from Kernel::copy_user_pages(Process&, int) (memory.cpp:42)"), std::string::npos) << text;
  // Still too long: the parameters go.
  EXPECT_NE(text.find("from Table::rehash_everything_now(...) (table.cpp:9)"), std::string::npos) << text;
  EXPECT_EQ(text.find("smplock::pound::detail"), std::string::npos) << text;
  EXPECT_EQ(text.find("void "), std::string::npos) << text;
  EXPECT_NE(text.find("from main()::<lambda> (kv.cpp:7)"), std::string::npos) << text;
}

}  // namespace
}  // namespace smplock
