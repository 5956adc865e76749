// The pound workload: each lock set runs briefly on real threads with every invariant of the
// model checked at the end, the lock sets are the tables the docs describe, bad configurations
// are refused, and the `smplock pound` command exits 2 on bad arguments.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/wait.h>

#include "smplock/pound.hpp"
#include "needs_cpus.hpp"

namespace {

using smplock::Level;
using smplock::pound::Granularity;
using smplock::pound::LockSetKind;
using smplock::pound::Path;
using smplock::pound::Role;

smplock::pound::Result run_briefly(LockSetKind kind, unsigned cpus) {
  smplock::pound::Config c;
  c.cpus = cpus;
  c.seconds = 0.3;
  c.locks = kind;
  return smplock::pound::run(c);
}

std::set<std::string> class_names(const smplock::stats::Snapshot& s) {
  std::set<std::string> names;
  for (const auto& c : s.classes)
    if (c.counters.acquisitions != 0) names.insert(c.name);
  return names;
}

void expect_balanced(const smplock::pound::Result& r) {
  EXPECT_TRUE(r.failures.empty()) << [&] {
    std::string all;
    for (const auto& f : r.failures) all += "  " + f + "\n";
    return all;
  }();
  EXPECT_GE(r.checks.size(), 15u);
  EXPECT_GT(r.total_ops(), 0u);
  // Every path ran (the mix gives each at least 2%).
  for (unsigned i = 0; i < smplock::pound::kPaths; ++i)
    EXPECT_GT(r.ops[i], 0u) << smplock::pound::path_name(static_cast<Path>(i));
  EXPECT_GT(r.packets, 0u);
  EXPECT_GT(r.disk_irps, 0u);
  EXPECT_GT(r.lowipl_calls, 0u);
  EXPECT_EQ(r.snapshot.cpus, r.cpus);
}

TEST(PoundRun, GiantBalancesAndUsesOneLock) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const auto r = run_briefly(LockSetKind::Giant, 2);
  expect_balanced(r);
  // Nothing but the giant lock and the IRQ lines (which belong to the interrupts, not the set).
  for (const auto& name : class_names(r.snapshot))
    EXPECT_TRUE(name == "GIANT" || name.rfind("IRQ ", 0) == 0) << name;
  EXPECT_TRUE(class_names(r.snapshot).count("GIANT"));
}

TEST(PoundRun, CoarseBalancesWithOneThreadStateLockAndALockedPool) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const auto r = run_briefly(LockSetKind::Coarse, 3);
  expect_balanced(r);
  const auto names = class_names(r.snapshot);
  for (const char* n : {"TS", "NP", "QU", "PM", "HT", "CN", "DV", "VL", "PT", "PR", "SE"})
    EXPECT_TRUE(names.count(n)) << n;
  for (const char* n : {"PS", "TF", "EV", "TP", "TC", "CP", "GIANT"}) EXPECT_FALSE(names.count(n)) << n;
  // Every allocation and free took the NP lock.
  EXPECT_EQ(r.pool.lock_acquisitions, r.pool.mallocs + r.pool.frees);
  const auto* np = r.snapshot.find("NP", Level::NP);
  ASSERT_NE(np, nullptr);
  // (The snapshot's window leaves out setup and teardown; the pool's counts do not.)
  EXPECT_GE(np->counters.acquisitions * 100, (r.pool.mallocs + r.pool.frees) * 95);
}

TEST(PoundRun, OzoneBalancesWithTheFinalTable) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const auto r = run_briefly(LockSetKind::Ozone, 2);
  expect_balanced(r);
  const auto names = class_names(r.snapshot);
  for (const char* n : {"HT", "VL", "CN", "DV", "PT", "PM", "CP", "PS", "TF", "EV", "TP", "TC", "PR", "SE"})
    EXPECT_TRUE(names.count(n)) << n;
  for (const char* n : {"TS", "GIANT", "QU"}) EXPECT_FALSE(names.count(n)) << n;
  // The pool takes its lock on a small share of calls only.
  EXPECT_GT(r.pool.mallocs, 0u);
  EXPECT_LT(r.pool.lock_acquisitions * 10, r.pool.mallocs + r.pool.frees);
}

TEST(PoundRun, OneCpuBalancesToo) {
  for (LockSetKind k : smplock::pound::kLockSets) {
    smplock::pound::Config c;
    c.cpus = 1;
    c.seconds = 0.1;
    c.locks = k;
    c.processes = 2;
    c.threads_per_process = 2;
    const auto r = smplock::pound::run(c);
    EXPECT_TRUE(r.failures.empty()) << smplock::pound::lock_set_name(k);
    EXPECT_GT(r.total_ops(), 0u);
  }
}

TEST(PoundConfig, BadConfigurationsAreRefused) {
  smplock::pound::Config c;
  c.cpus = 0;
  EXPECT_THROW(smplock::pound::run(c), std::invalid_argument);
  c.cpus = 100000;
  EXPECT_THROW(smplock::pound::run(c), std::invalid_argument);
  c.cpus = 1;
  c.seconds = 0;
  EXPECT_THROW(smplock::pound::run(c), std::invalid_argument);
  c.seconds = -1;
  EXPECT_THROW(smplock::pound::run(c), std::invalid_argument);
  c.seconds = 0.1;
  c.processes = 0;
  EXPECT_THROW(smplock::pound::run(c), std::invalid_argument);
}

// --- the lock sets as data --------------------------------------------------------------------

TEST(PoundLockSets, NamesRoundTrip) {
  for (LockSetKind k : smplock::pound::kLockSets)
    EXPECT_EQ(smplock::pound::parse_lock_set(smplock::pound::lock_set_name(k)), k);
  EXPECT_FALSE(smplock::pound::parse_lock_set("fine"));
  EXPECT_FALSE(smplock::pound::parse_lock_set(""));
}

TEST(PoundLockSets, GiantIsOneLockBelowEverything) {
  for (const auto& row : smplock::pound::lock_set(LockSetKind::Giant)) {
    EXPECT_STREQ(row.name, "GIANT");
    EXPECT_EQ(row.level, smplock::pound::kGiantLevel);
    EXPECT_EQ(row.granularity, Granularity::One);
  }
  EXPECT_LT(smplock::pound::kGiantLevel, Level::SH);
}

TEST(PoundLockSets, OzoneIsTheDesignTable) {
  const auto& t = smplock::pound::lock_set(LockSetKind::Ozone);
  const Level want[] = {Level::HT, Level::VL, smplock::pound::kConnectionLevel, Level::DV, Level::PT, Level::PM,
                        Level::CP, Level::PS, Level::TF, Level::EV, Level::TP, Level::TC, Level::PR, Level::SE,
                        Level::NP, Level::QU};
  for (unsigned i = 0; i < smplock::pound::kRoles; ++i) {
    EXPECT_EQ(t[i].level, want[i]) << smplock::pound::role_name(t[i].role);
    EXPECT_EQ(std::string(t[i].name), std::string(smplock::pound::role_name(t[i].role)));
    if (i > 0) EXPECT_LT(t[i - 1].level, t[i].level);
  }
  EXPECT_EQ(t[static_cast<unsigned>(Role::NP)].granularity, Granularity::LockFree);
  EXPECT_EQ(t[static_cast<unsigned>(Role::QU)].granularity, Granularity::LockFree);
  for (Role r : {Role::PM, Role::TC, Role::PR, Role::SE})
    EXPECT_EQ(t[static_cast<unsigned>(r)].granularity, Granularity::One) << smplock::pound::role_name(r);
  for (Role r : {Role::HT, Role::VL, Role::CN, Role::DV, Role::PT, Role::CP, Role::PS, Role::TF, Role::EV, Role::TP})
    EXPECT_EQ(t[static_cast<unsigned>(r)].granularity, Granularity::PerObject) << smplock::pound::role_name(r);
}

TEST(PoundLockSets, CoarseIsOzoneBeforeTheSeedsThreeSplits) {
  const auto& c = smplock::pound::lock_set(LockSetKind::Coarse);
  const auto& o = smplock::pound::lock_set(LockSetKind::Ozone);
  for (Role r : {Role::PS, Role::TF, Role::EV, Role::TP, Role::TC}) {
    const auto& row = c[static_cast<unsigned>(r)];
    EXPECT_STREQ(row.name, "TS");
    EXPECT_EQ(row.level, Level::PS);
    EXPECT_EQ(row.granularity, Granularity::One);
  }
  EXPECT_STREQ(c[static_cast<unsigned>(Role::CP)].name, "PM");
  EXPECT_EQ(c[static_cast<unsigned>(Role::CP)].level, Level::PM);
  EXPECT_EQ(c[static_cast<unsigned>(Role::NP)].granularity, Granularity::One);
  EXPECT_EQ(c[static_cast<unsigned>(Role::QU)].granularity, Granularity::One);
  // Everything else is as in ozone.
  for (Role r : {Role::HT, Role::VL, Role::CN, Role::DV, Role::PT, Role::PM, Role::PR, Role::SE}) {
    const unsigned i = static_cast<unsigned>(r);
    EXPECT_EQ(c[i].level, o[i].level);
    EXPECT_STREQ(c[i].name, o[i].name);
    EXPECT_EQ(c[i].granularity, o[i].granularity);
  }
}

// --- the command --------------------------------------------------------------------------------

#ifdef SMPLOCK_CLI
int run_cli(const std::string& args, std::string* output = nullptr) {
  const std::string cmd = std::string(SMPLOCK_CLI) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = pclose(p);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(PoundCommand, BadArgumentsExitTwoWithAMessage) {
  std::string out;
  for (const char* bad : {"pound --cpus 0", "pound --cpus x", "pound --seconds 0", "pound --seconds -3",
                          "pound --locks fine", "pound --bogus", "pound --cpus 2 extra"}) {
    EXPECT_EQ(run_cli(bad, &out), 2) << bad << "\n" << out;
    EXPECT_NE(out.find("smplock"), std::string::npos) << bad << "\n" << out;
  }
  EXPECT_EQ(run_cli("pound --json /nonexistent-dir/x.json --seconds 0.05 --cpus 1 --locks ozone --no-report", &out), 2)
      << out;
}

TEST(PoundCommand, RunsAndSavesJson) {
  const std::string path = ::testing::TempDir() + "pound_test.json";
  std::string out;
  ASSERT_EQ(run_cli("pound --cpus 2 --seconds 0.2 --json " + path, &out), 0) << out;
  for (const char* want : {"machine:", "== giant", "== coarse", "== ozone", "throughput:", "comparison",
                           "all 1", "contention"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  for (const char* want : {"\"schema\": \"smplock-pound\"", "\"smplock-stats\"", "\"ops_per_second\"",
                           "\"locks\": \"coarse\""})
    EXPECT_NE(json.find(want), std::string::npos) << want;
  // `smplock report` reads it back: one table per lock set.
  ASSERT_EQ(run_cli("report " + path, &out), 0) << out;
  for (const char* want : {"lock set: giant", "lock set: coarse", "lock set: ozone", "GIANT", "TS"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
}

TEST(PoundCommand, OneLockSet) {
  std::string out;
  ASSERT_EQ(run_cli("pound --cpus 1 --seconds 0.1 --locks coarse --no-report", &out), 0) << out;
  EXPECT_NE(out.find("== coarse"), std::string::npos) << out;
  EXPECT_EQ(out.find("== ozone"), std::string::npos) << out;
  EXPECT_EQ(out.find("comparison"), std::string::npos) << out;  // nothing to compare with
}
#endif

}  // namespace
