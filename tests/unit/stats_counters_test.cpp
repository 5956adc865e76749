// Contention statistics observed from outside: exact counts from scenarios whose interleaving is
// forced (a lock held while N threads are known to be waiting), nesting samples, the baseline of
// reset(), hold timing, and snapshots taken while other threads run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lock_access.hpp"
#include "needs_cpus.hpp"
#include "smplock/report.hpp"
#include "smplock/smplock.hpp"

namespace smplock {

namespace {

using stats::ClassStats;

// Class names unique to each run of a test, so counts are exact under --gtest_repeat too (a class,
// and its per-CPU counters, outlive the locks of a test run).
int g_generation = 0;

const char* name(const char* base) {
  static std::map<std::pair<std::string, int>, std::string> names;  // map nodes never move
  std::string& n = names[{base, g_generation}];
  if (n.empty()) n = std::string(base) + "#" + std::to_string(g_generation);
  return n.c_str();
}

class StatsCounters : public ::testing::Test {
 protected:
  void SetUp() override { ++g_generation; }
};

const ClassStats& find(const stats::Snapshot& s, const char* name, Level level) {
  const ClassStats* c = s.find(name, level);
  if (c == nullptr) {
    ADD_FAILURE() << "class " << name << " not in the snapshot";
    static const ClassStats none;
    return none;
  }
  return *c;
}

// The one place the waiting threads acquire from, so their call site is known.
__attribute__((noinline)) void contend_once(Lock& l) {
  const Level prev = l.acquire();
  l.release(prev);
}

void wait_for_waiters(const Lock& l, unsigned n) {
  while (LockAccess::waiters(l) < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST_F(StatsCounters, BlockedWaitersAreCountedExactly) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  constexpr unsigned kWaiters = 5;
  Lock l(Level::PS, name("stats-contended"));
  const Level prev = l.acquire();
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < kWaiters; ++i) threads.emplace_back([&] { contend_once(l); });
  wait_for_waiters(l, kWaiters);  // every thread is now in the contended path, none can get in
  l.release(prev);
  for (auto& t : threads) t.join();

  stats::Snapshot s = stats::snapshot();
  const ClassStats& c = find(s, name("stats-contended"), Level::PS);
  EXPECT_EQ(c.counters.acquisitions, kWaiters + 1);
  EXPECT_EQ(c.counters.contended, kWaiters);
  EXPECT_GE(s.cpus, kWaiters + 1);  // all were attached at once
  // The i-th thread in found i others waiting: 0, 1, 2, then two with 3 or more.
  EXPECT_EQ(c.counters.queued_0, 1u);
  EXPECT_EQ(c.counters.queued_1, 1u);
  EXPECT_EQ(c.counters.queued_2, 1u);
  EXPECT_EQ(c.counters.queued_3plus, kWaiters - 3);
  EXPECT_GT(c.counters.wait_ns, 0u);
  EXPECT_GT(c.counters.max_wait_ns, 0u);
  EXPECT_LE(c.counters.max_wait_ns, c.counters.wait_ns);
  // One call site (contend_once), every contended acquisition from it.
  ASSERT_EQ(c.call_sites.size(), 1u);
  EXPECT_EQ(c.call_sites[0].count, kWaiters);
  EXPECT_EQ(c.other_sites, 0u);

  stats::symbolize(s);
  const ClassStats& named = find(s, name("stats-contended"), Level::PS);
  EXPECT_NE(named.call_sites[0].function.find("contend_once"), std::string::npos) << named.call_sites[0].function;
  EXPECT_NE(named.call_sites[0].file.find("stats_counters_test.cpp"), std::string::npos) << named.call_sites[0].file;
  EXPECT_GT(named.call_sites[0].line, 0u);
}

__attribute__((noinline)) void contend_with_guard(Lock& l) { Guard g(l); }
__attribute__((noinline)) void contend_with_lock_guard(Lock& l) { std::lock_guard<Lock> g(l); }

// Through Guard and std::lock_guard the acquire is inlined two or three deep; the call site named
// is still the user's line, not one inside the library's or the standard library's headers.
TEST_F(StatsCounters, CallSitesThroughGuardsNameTheUsersLine) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Lock l(Level::PS, name("stats-guarded"));
  const Level prev = l.acquire();
  std::thread a([&] { contend_with_guard(l); });
  wait_for_waiters(l, 1);
  std::thread b([&] { contend_with_lock_guard(l); });
  wait_for_waiters(l, 2);
  l.release(prev);
  a.join();
  b.join();
  stats::Snapshot s = stats::snapshot();
  stats::symbolize(s);
  const ClassStats& c = find(s, name("stats-guarded"), Level::PS);
  ASSERT_EQ(c.call_sites.size(), 2u);
  bool guard = false, lock_guard = false;
#ifdef __OPTIMIZE__
  constexpr bool kStdInlined = true;
#else
  constexpr bool kStdInlined = false;  // -O0 keeps std::lock_guard's constructor out of line
#endif
  for (const stats::CallSite& site : c.call_sites) {
    EXPECT_EQ(site.count, 1u);
    const bool in_std = site.file.find("std_mutex.h") != std::string::npos;
    if (kStdInlined || !in_std)
      EXPECT_NE(site.file.find("stats_counters_test.cpp"), std::string::npos) << site.function << " " << site.file;
    guard |= site.function.find("contend_with_guard") != std::string::npos;
    lock_guard |= site.function.find("contend_with_lock_guard") != std::string::npos || (!kStdInlined && in_std);
  }
  EXPECT_TRUE(guard);
  EXPECT_TRUE(lock_guard);
  EXPECT_NE(c.call_sites[0].line, c.call_sites[1].line);
}

TEST_F(StatsCounters, UncontendedAcquisitionsAndTriesAreCounted) {
  Lock l(Level::TF, name("stats-plain"));
  for (int i = 0; i < 1000; ++i) {
    const Level prev = l.acquire();
    l.release(prev);
  }
  Level prev;
  ASSERT_TRUE(l.try_acquire(prev));
  l.release(prev);
  {
    Guard g(l);
  }
  const stats::Snapshot s = stats::snapshot();
  const ClassStats& c = find(s, name("stats-plain"), Level::TF);
  EXPECT_EQ(c.counters.acquisitions, 1002u);
  EXPECT_EQ(c.counters.contended, 0u);
  EXPECT_EQ(c.counters.wait_ns, 0u);
  EXPECT_TRUE(c.call_sites.empty());
}

TEST_F(StatsCounters, LocksOfOneClassShareCounters) {
  const char* const kName = name("stats-shared-class");
  Lock a(Level::TP, kName), b(Level::TP, kName), other(Level::TC, kName);
  for (int i = 0; i < 3; ++i) {
    Guard ga(a);
  }
  for (int i = 0; i < 4; ++i) {
    Guard gb(b);
  }
  {
    Guard go(other);
  }
  const stats::Snapshot s = stats::snapshot();
  EXPECT_EQ(find(s, kName, Level::TP).counters.acquisitions, 7u);
  EXPECT_EQ(find(s, kName, Level::TC).counters.acquisitions, 1u);  // another level: another class
}

TEST_F(StatsCounters, NestingIsSampledOneInSixtyFour) {
  Lock outer(Level::PM, name("stats-outer")), inner(Level::PS, name("stats-inner")), alone(Level::NP, name("stats-alone"));
  for (int i = 0; i < 200; ++i) {
    Guard go(outer);
    Guard gi(inner);
  }
  for (int i = 0; i < 200; ++i) {
    Guard ga(alone);
  }
  const stats::Snapshot s = stats::snapshot();
  const ClassStats& in = find(s, name("stats-inner"), Level::PS);
  // Acquisitions 0, 64, 128 and 192 of the class on this CPU are sampled.
  EXPECT_EQ(in.counters.nest_samples, 4u);
  EXPECT_EQ(in.counters.nest_nested, 4u);
  ASSERT_EQ(in.parents.size(), 1u);
  EXPECT_EQ(in.parents[0].name, name("stats-outer"));
  EXPECT_EQ(in.parents[0].level, Level::PM);
  EXPECT_EQ(in.parents[0].samples, 4u);
  const ClassStats& al = find(s, name("stats-alone"), Level::NP);
  EXPECT_EQ(al.counters.nest_samples, 4u);
  EXPECT_EQ(al.counters.nest_nested, 0u);
  EXPECT_TRUE(al.parents.empty());

  const stats::Analysis a = stats::analyze(s);
  bool inner_flagged = false, alone_flagged = false;
  for (const stats::ClassVerdict& v : a.too_many) {
    inner_flagged |= v.cls->name == name("stats-inner");
    alone_flagged |= v.cls->name == name("stats-alone");
  }
  EXPECT_TRUE(inner_flagged);
  EXPECT_FALSE(alone_flagged);
}

TEST_F(StatsCounters, NestingRecordsTheLockDirectlyBelow) {
  Lock a(Level::VL, name("stats-chain-a")), b(Level::PM, name("stats-chain-b")), c(Level::NP, name("stats-chain-c"));
  {
    Guard ga(a);
    Guard gb(b);
    Guard gc(c);  // directly inside b, not a
  }
  const stats::Snapshot s = stats::snapshot();
  const ClassStats& cc = find(s, name("stats-chain-c"), Level::NP);
  ASSERT_EQ(cc.parents.size(), 1u);
  EXPECT_EQ(cc.parents[0].name, name("stats-chain-b"));
}

TEST_F(StatsCounters, ResetStartsANewWindow) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  constexpr unsigned kWaiters = 2;
  Lock l(Level::EV, name("stats-reset"));
  {
    const Level prev = l.acquire();
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < kWaiters; ++i) threads.emplace_back([&] { contend_once(l); });
    wait_for_waiters(l, kWaiters);
    l.release(prev);
    for (auto& t : threads) t.join();
  }
  const stats::Snapshot before = stats::snapshot();
  ASSERT_EQ(find(before, name("stats-reset"), Level::EV).counters.contended, kWaiters);

  stats::reset();
  for (int i = 0; i < 3; ++i) {
    Guard g(l);
  }
  const stats::Snapshot after = stats::snapshot();
  const ClassStats& c = find(after, name("stats-reset"), Level::EV);
  EXPECT_EQ(c.counters.acquisitions, 3u);
  EXPECT_EQ(c.counters.contended, 0u);
  EXPECT_EQ(c.counters.wait_ns, 0u);
  EXPECT_EQ(c.counters.max_wait_ns, 0u);  // the shared maximum is cleared by reset()
  EXPECT_EQ(c.counters.queued_0 + c.counters.queued_1 + c.counters.queued_2 + c.counters.queued_3plus, 0u);
  EXPECT_TRUE(c.call_sites.empty());
  EXPECT_GE(after.start_ns, before.end_ns);
  EXPECT_GT(after.end_ns, after.start_ns);
}

TEST_F(StatsCounters, HoldTimingIsSwitchableAndSampled) {
  // Hold timing measures the sampled acquisitions: a class's first on a CPU, then every
  // nest_sample_period-th (64). Acquisition 0 is sampled while timing is off; of 1-64, taken with
  // timing on, only the 64th is sampled, and only it sleeps; 65-128 run with timing off again.
  Lock l(Level::SE, name("stats-hold"));
  ASSERT_FALSE(stats::hold_timing());  // off by default
  {
    Guard g(l);
  }
  stats::set_hold_timing(true);
  EXPECT_TRUE(stats::hold_timing());
  for (int i = 1; i <= 64; ++i) {
    Guard g(l);
    if (i == 64) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stats::set_hold_timing(false);
  for (int i = 65; i <= 128; ++i) {
    Guard g(l);
  }
  const stats::Snapshot s = stats::snapshot();
  ASSERT_EQ(s.nest_sample_period, 64u);
  const ClassStats& c = find(s, name("stats-hold"), Level::SE);
  EXPECT_EQ(c.counters.acquisitions, 129u);
  EXPECT_EQ(c.counters.hold_samples, 1u);
  EXPECT_GE(c.counters.hold_ns, 2'000'000u);  // slept 2 ms while holding: a lower bound, not a timing
  EXPECT_EQ(c.counters.max_hold_ns, c.counters.hold_ns);
}

TEST_F(StatsCounters, LevelsAddTheirClassesUp) {
  Lock a(Level::QU, name("stats-level-a")), b(Level::QU, name("stats-level-b"));
  for (int i = 0; i < 5; ++i) {
    Guard g(a);
  }
  for (int i = 0; i < 7; ++i) {
    Guard g(b);
  }
  const stats::Snapshot s = stats::snapshot();
  std::uint64_t expected = 0;
  unsigned classes = 0;
  for (const ClassStats& c : s.classes)
    if (c.level == Level::QU) {
      expected += c.counters.acquisitions;
      ++classes;
    }
  EXPECT_GE(expected, 12u);
  bool found = false;
  for (const stats::LevelStats& l : s.levels)
    if (l.level == Level::QU) {
      found = true;
      EXPECT_EQ(l.classes, classes);
      EXPECT_EQ(l.counters.acquisitions, expected);
    }
  EXPECT_TRUE(found);
}

TEST_F(StatsCounters, SnapshotDescribesTheWindow) {
  Lock l(Level::SH, name("stats-window"));
  {
    Guard g(l);
  }
  const stats::Snapshot s = stats::snapshot();
  EXPECT_GE(s.cpus, 1u);
  EXPECT_GE(s.processors, 1u);
  EXPECT_EQ(s.nest_sample_period, 64u);
  EXPECT_GT(s.window_ns(), 0u);
  for (std::size_t i = 1; i < s.classes.size(); ++i) EXPECT_LT(s.classes[i - 1].id, s.classes[i].id);
}

// A running program prints its report and saves the JSON in one call.
TEST_F(StatsCounters, ReportNowPrintsAndSaves) {
  Lock l(Level::DV, name("stats-report-now"));
  {
    Guard g(l);
  }
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("smplock-report-now-" + std::to_string(::getpid()) + ".json")).string();
  std::FILE* text = std::tmpfile();
  ASSERT_NE(text, nullptr);
  ASSERT_TRUE(stats::report_now(text, path));
  std::rewind(text);
  std::string printed(4096, '\0');
  printed.resize(std::fread(printed.data(), 1, printed.size(), text));
  std::fclose(text);
  EXPECT_NE(printed.find(name("stats-report-now")), std::string::npos) << printed;
  std::ifstream in(path);
  std::stringstream json;
  json << in.rdbuf();
  const stats::Snapshot saved = stats::from_json(json.str());
  const ClassStats* c = saved.find(name("stats-report-now"), Level::DV);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->counters.acquisitions, 1u);
  std::filesystem::remove(path);
  EXPECT_FALSE(stats::report_now(nullptr, "/nonexistent-dir/x.json"));
}

// Snapshots and resets from one thread while others take locks: counters only grow between
// snapshots of one window, and nothing tears (run under TSan too).
TEST_F(StatsCounters, SnapshotsWhileThreadsRun) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Lock shared(Level::PR, name("stats-live-shared"));
  const char* const own = name("stats-live-own");  // name() is for the test's own thread only
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      Lock mine(Level::TC, own);
      while (!stop.load(std::memory_order_relaxed)) {
        Guard g(mine);
        Guard s(shared);
      }
    });
  std::uint64_t last = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  int snapshots = 0;
  while (std::chrono::steady_clock::now() < end) {
    const stats::Snapshot s = stats::snapshot();
    if (const ClassStats* c = s.find(name("stats-live-shared"), Level::PR)) {
      EXPECT_GE(c->counters.acquisitions, last);
      EXPECT_LE(c->counters.contended, c->counters.acquisitions + 3);  // a waiter counts after it gets in
      last = c->counters.acquisitions;
    }
    ++snapshots;
    if (snapshots == 50) {
      stats::reset();
      last = 0;
    }
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  EXPECT_GT(snapshots, 1);
}

}  // namespace
}  // namespace smplock
