// The pound workload: each step's lock set runs briefly on real threads with every invariant of the
// model checked at the end, the lock sets are the tables the docs describe and each step changes
// only what it says it split, the story's figures, verdicts, screen and JSON are checked on fixed
// figures (never on measured ones), bad configurations are refused, and the `smplock pound`
// command exits 2 on bad arguments, fits a screen, and `smplock report` reads its story back.
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
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "smplock/pound.hpp"
#include "smplock/pound_story.hpp"
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
  // Every allocation and free took the NP lock (the pool's own count, exact).
  EXPECT_EQ(r.pool.lock_acquisitions, r.pool.mallocs + r.pool.frees);
  // The statistics saw exactly those acquisitions as the NP class (only the pool takes that lock),
  // because the statistics and the pool's figures cover the same window: both start while every
  // CPU waits at a barrier and end after every CPU has stopped.
  const auto* np = r.snapshot.find("NP", Level::NP);
  ASSERT_NE(np, nullptr);
  EXPECT_GT(np->counters.acquisitions, 0u);
  EXPECT_EQ(np->counters.acquisitions, r.pool.lock_acquisitions);
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

TEST(PoundRun, PoolStepHasTheLockFreePoolAndStillOneThreadStateLock) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const auto r = run_briefly(LockSetKind::Pool, 2);
  expect_balanced(r);
  const auto names = class_names(r.snapshot);
  for (const char* n : {"TS", "PM", "HT", "CN", "DV", "PT", "PR", "SE"}) EXPECT_TRUE(names.count(n)) << n;
  for (const char* n : {"PS", "TF", "EV", "TP", "TC", "CP", "GIANT", "QU"}) EXPECT_FALSE(names.count(n)) << n;
  EXPECT_GT(r.pool.mallocs, 0u);
  EXPECT_LT(r.pool.lock_acquisitions * 10, r.pool.mallocs + r.pool.frees);
}

TEST(PoundRun, ThreadsStepSplitsThreadStateButNotTheCache) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  const auto r = run_briefly(LockSetKind::Threads, 2);
  expect_balanced(r);
  const auto names = class_names(r.snapshot);
  for (const char* n : {"PS", "TF", "EV", "TP", "TC", "PM", "HT", "CN", "DV", "PT", "PR", "SE"})
    EXPECT_TRUE(names.count(n)) << n;
  for (const char* n : {"TS", "CP", "GIANT", "QU"}) EXPECT_FALSE(names.count(n)) << n;
}

TEST(PoundRun, KernelOnlyLoadBalancesAndWaitsAreSampledOrNot) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  // --user-ns 0 (no user mode between calls) and the wait sampler off: the model still balances.
  smplock::pound::Config c;
  c.cpus = 2;
  c.seconds = 0.1;
  c.locks = LockSetKind::Ozone;
  c.user_ns = 0;
  c.sample_waits = false;
  const auto r = smplock::pound::run(c);
  EXPECT_TRUE(r.failures.empty());
  EXPECT_TRUE(r.waits_sampled.empty());
  EXPECT_EQ(r.user_ns, 0.0);
  // What the machine took is a share of the run (or -1 where schedstat is missing).
  EXPECT_LE(r.run_delay_share, 1.5);
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
  for (const char* name : {"giant", "coarse", "pool", "threads", "ozone"})
    EXPECT_TRUE(smplock::pound::parse_lock_set(name)) << name;
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

// Each step of the story changes, against the step before, exactly the roles of the lock it split.
TEST(PoundLockSets, EachStepChangesOnlyWhatItSplit) {
  const auto& steps = smplock::pound::story();
  ASSERT_EQ(steps.size(), smplock::pound::kLockSets.size());
  const std::vector<std::set<Role>> changed = {
      {},
      {},  // coarse: every role (checked below)
      {Role::NP, Role::QU},
      {Role::PS, Role::TF, Role::EV, Role::TP, Role::TC},
      {Role::CP}};
  for (unsigned i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].locks, smplock::pound::kLockSets[i]);
    if (i < 2) continue;
    const auto& before = smplock::pound::lock_set(steps[i - 1].locks);
    const auto& now = smplock::pound::lock_set(steps[i].locks);
    for (unsigned r = 0; r < smplock::pound::kRoles; ++r) {
      const bool differs = before[r].level != now[r].level || std::string(before[r].name) != now[r].name ||
                           before[r].granularity != now[r].granularity;
      EXPECT_EQ(differs, changed[i].count(static_cast<Role>(r)) == 1)
          << smplock::pound::lock_set_name(steps[i].locks) << " " << smplock::pound::role_name(static_cast<Role>(r));
    }
  }
  // The split class is a class of the step before; the classes it went into are classes of this step.
  for (unsigned i = 1; i < steps.size(); ++i) {
    std::set<std::string> before, now;
    for (const auto& row : smplock::pound::lock_set(steps[i - 1].locks)) before.insert(row.name);
    for (const auto& row : smplock::pound::lock_set(steps[i].locks))
      if (row.granularity != Granularity::LockFree || std::string(row.name) == "NP") now.insert(row.name);
    EXPECT_TRUE(before.count(steps[i].split)) << steps[i].split;
    for (const char* into : steps[i].into)
      if (into != nullptr) EXPECT_TRUE(now.count(into)) << into;
    EXPECT_STRNE(steps[i].changed, "");
  }
  EXPECT_STREQ(steps[0].split, "");
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

// --- the story, from fixed figures ----------------------------------------------------------------

using smplock::pound::Result;
using smplock::pound::Story;

// A round with the given throughput and class contention (in % of CPU time), as run() would fill it.
Result fake_round(LockSetKind k, double mops, const std::vector<std::pair<std::string, double>>& contention,
                  double run_delay = 0.01) {
  Result r;
  r.locks = k;
  r.cpus = 2;
  r.seconds = 1;
  r.ops[0] = static_cast<std::uint64_t>(mops * 1e6);
  r.cpu_share = 0.99;
  r.run_delay_share = run_delay;
  r.checks = {"a check"};
  r.snapshot.start_ns = 1'000'000'000;
  r.snapshot.end_ns = 2'000'000'000;
  r.snapshot.cpus = 2;
  unsigned id = 1;
  for (const auto& [name, percent] : contention) {
    smplock::stats::ClassStats c;
    c.id = id++;
    c.name = name;
    c.level = static_cast<Level>(0x40);
    c.counters.acquisitions = 1000;
    c.counters.contended = 10;
    c.counters.wait_ns = static_cast<std::uint64_t>(percent / 100.0 * 2e9);
    r.snapshot.classes.push_back(c);
  }
  return r;
}

// The seed's story, as the figures would show it on a quiet machine: three rounds per step.
std::vector<std::vector<Result>> seed_rounds(double run_delay = 0.01) {
  std::vector<std::vector<Result>> out;
  const std::vector<std::pair<LockSetKind, std::pair<double, std::vector<std::pair<std::string, double>>>>> steps = {
      {LockSetKind::Giant, {3.4, {{"GIANT", 40.0}, {"IRQ 14", 0.01}}}},
      {LockSetKind::Coarse, {3.6, {{"NP", 9.0}, {"TS", 2.0}, {"PM", 1.5}, {"HT", 0.1}}}},
      {LockSetKind::Pool, {4.8, {{"TS", 2.5}, {"PM", 1.6}, {"NP", 0.01}}}},
      {LockSetKind::Threads, {5.6, {{"PM", 1.8}, {"PS", 0.7}, {"TP", 0.3}, {"TC", 0.2}}}},
      {LockSetKind::Ozone, {6.1, {{"CP", 0.8}, {"PS", 0.6}, {"PM", 0.4}}}},
  };
  for (const auto& [k, figures] : steps) {
    std::vector<Result> rounds;
    for (double f : {0.98, 1.0, 1.02}) rounds.push_back(fake_round(k, figures.first * f, figures.second, run_delay));
    out.push_back(rounds);
  }
  return out;
}

smplock::pound::Config story_config() {
  smplock::pound::Config c;
  c.cpus = 2;
  c.seconds = 0.4;
  return c;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(PoundStory, FiguresAreMediansAndEachStepComparesWithTheOneBefore) {
  const Story s = smplock::pound::make_story(story_config(), seed_rounds());
  ASSERT_EQ(s.steps.size(), 5u);
  EXPECT_EQ(s.rounds, 3u);
  EXPECT_NEAR(s.steps[0].ops_per_second.median, 3.4e6, 1);
  EXPECT_NEAR(s.steps[0].ops_per_second.low, 3.4e6 * 0.98, 1);
  EXPECT_NEAR(s.steps[0].ops_per_second.high, 3.4e6 * 1.02, 1);
  EXPECT_EQ(s.steps[0].classes.front().name, "GIANT");
  EXPECT_FALSE(smplock::pound::busy(s));
  // Coarse split GIANT; its data went to the short list, led by NP.
  auto sp = smplock::pound::split_figures(s, 1);
  EXPECT_TRUE(sp.present);
  EXPECT_EQ(sp.before_class, "GIANT");
  EXPECT_NEAR(sp.before, 40.0, 0.01);
  EXPECT_EQ(sp.after_class, "NP");
  // The pool step split NP: 9% before, the refill lock's 0.01% after.
  sp = smplock::pound::split_figures(s, 2);
  EXPECT_EQ(sp.before_class, "NP");
  EXPECT_NEAR(sp.before, 9.0, 0.01);
  EXPECT_NEAR(sp.after, 0.01, 0.001);
  // Threads split TS (2.5% in pool) into PS, TF, EV, TP, TC: the largest of them is PS.
  sp = smplock::pound::split_figures(s, 3);
  EXPECT_EQ(sp.before_class, "TS");
  EXPECT_EQ(sp.after_class, "PS");
  EXPECT_NEAR(sp.after, 0.7, 0.001);
  // Ozone split PM (1.8% in threads) into PM and CP: CP at 0.8%.
  sp = smplock::pound::split_figures(s, 4);
  EXPECT_EQ(sp.before_class, "PM");
  EXPECT_EQ(sp.after_class, "CP");
  EXPECT_FALSE(smplock::pound::split_figures(s, 0).present);
  // Coarse's NP over the budget is the next lock to split, not a break in the story.
  std::string why;
  EXPECT_TRUE(smplock::pound::story_holds(s, &why)) << why;
  EXPECT_NE(smplock::pound::verdict(s, 1).find("NP on top"), std::string::npos) << smplock::pound::verdict(s, 1);
  // A step slower than the one before, or a final table with a class over the budget, breaks it.
  auto slower = seed_rounds();
  for (auto& r : slower[3]) r.ops[0] /= 2;
  for (auto& r : slower[4]) r.snapshot.classes[0].counters.wait_ns *= 3;  // CP at 2.4%
  const Story broken = smplock::pound::make_story(story_config(), slower);
  EXPECT_FALSE(smplock::pound::story_holds(broken, &why));
  EXPECT_NE(why.find("threads: slower than pool"), std::string::npos) << why;
  EXPECT_NE(why.find("ozone: CP"), std::string::npos) << why;
  EXPECT_NE(smplock::pound::verdict(s, 4).find("every class under 1%"), std::string::npos)
      << smplock::pound::verdict(s, 4);
  EXPECT_NE(smplock::pound::verdict(s, 2).find("faster"), std::string::npos) << smplock::pound::verdict(s, 2);
  EXPECT_NE(smplock::pound::verdict(s, 0).find("GIANT"), std::string::npos);
}

TEST(PoundStory, TheScreenFitsAHundredColumnsAndFortyLines) {
  for (double delay : {0.01, 0.05, 0.5}) {  // quiet, busy, too busy: the notes differ
    const Story s = smplock::pound::make_story(story_config(), seed_rounds(delay));
    const std::string text = smplock::pound::story_text(s);
    const auto lines = lines_of(text);
    EXPECT_LE(lines.size(), 40u) << text;
    for (const auto& line : lines) EXPECT_LE(line.size(), 100u) << line;
    for (const char* step : {"giant", "coarse", "pool", "threads", "ozone"})
      EXPECT_NE(text.find(std::string("\n") + step + " "), std::string::npos) << step << "\n" << text;
    EXPECT_NE(text.find("TS -> PS TF EV TP TC"), std::string::npos) << text;
    EXPECT_EQ(text.find("NOT A FAIR RUN") != std::string::npos, delay > smplock::pound::kUnfairRunDelay) << text;
    EXPECT_EQ(smplock::pound::fairness(s).fair, delay <= smplock::pound::kUnfairRunDelay);
    // An unfair run judges the story in contention behind running holders only, and says so.
    EXPECT_EQ(text.find("in contention behind running holders the story holds") != std::string::npos,
              delay > smplock::pound::kUnfairRunDelay)
        << text;
  }
}

TEST(PoundStory, WaitsBehindPreemptedHoldersAreLeftOutOnABusyMachine) {
  auto rounds = seed_rounds(0.3);
  // Every sampled wait for NP in coarse was behind a preempted holder: on a busy machine its
  // contention behind running holders is none of it.
  for (auto& r : rounds[1]) r.waits_sampled.push_back({"NP", 0, 40, 0});
  for (auto& r : rounds[1]) r.waits_sampled.push_back({"TS", 30, 0, 0});
  const Story s = smplock::pound::make_story(story_config(), rounds);
  ASSERT_TRUE(smplock::pound::busy(s));
  const auto& coarse = s.steps[1];
  const smplock::pound::ClassFigure* np = nullptr;
  for (const auto& c : coarse.classes)
    if (c.name == "NP") np = &c;
  ASSERT_NE(np, nullptr);
  EXPECT_EQ(np->preempted_holder, 120u);
  EXPECT_EQ(coarse.running_contention(*np), 0.0);
  EXPECT_EQ(smplock::pound::top_class(s, coarse)->name, "TS");
}

TEST(PoundStory, JsonRoundTripGivesTheSameScreen) {
  auto rounds = seed_rounds();
  for (auto& r : rounds[2]) r.waits_sampled.push_back({"TS", 7, 2, 1});
  const Story s = smplock::pound::make_story(story_config(), rounds);
  const std::string file = "{\"schema\": \"smplock-pound\", \"story\": " + smplock::pound::story_to_json(s) + "}";
  ASSERT_TRUE(smplock::pound::has_story(file));
  const Story back = smplock::pound::story_from_json(file);
  EXPECT_EQ(smplock::pound::story_text(back), smplock::pound::story_text(s));
  EXPECT_EQ(smplock::pound::story_svg(back), smplock::pound::story_svg(s));
  EXPECT_FALSE(smplock::pound::has_story("{\"schema\": \"smplock-stats\"}"));
  EXPECT_THROW(smplock::pound::story_from_json("{\"story\": {\"cpus\": 2}}"), std::runtime_error);
}

TEST(PoundStory, SvgHasEveryStepTheBudgetLineAndTheClasses) {
  const Story s = smplock::pound::make_story(story_config(), seed_rounds());
  const std::string svg = smplock::pound::story_svg(s);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  for (const char* want : {"1. giant", "5. ozone", "1% budget", "Throughput", "stacked by lock class", "log scale",
                           ">GIANT<", ">CP<", "stroke-dasharray"})
    EXPECT_NE(svg.find(want), std::string::npos) << want;
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("http://www.w3.org/2000/svg\" width"), svg.find("http://www.w3.org/2000/svg\""));
}

bool have(const char* program) {
  const std::string cmd = std::string("command -v ") + program + " > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Headless Chromium draws the story's SVG: the picture has the budget line's red and GIANT's purple
// (the steps' stacked bars), so it is neither blank nor missing its bars.
TEST(PoundStory, ChromiumDrawsTheStory) {
  if (!have("chromium")) GTEST_SKIP() << "chromium is not installed (apt-get install chromium)";
  if (!have("python3")) GTEST_SKIP() << "python3 is not installed";
  const Story s = smplock::pound::make_story(story_config(), seed_rounds());
  const std::string svg = smplock::pound::story_svg(s);
  const auto h = svg.find("height=\"");
  ASSERT_NE(h, std::string::npos);
  const int height = std::atoi(svg.c_str() + h + 8);
  ASSERT_GT(height, 600);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("smplock-story-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "profile");
  std::ofstream(dir / "story.svg") << svg;
  std::ofstream(dir / "check.py") << R"PY(
import sys, zlib, struct
data = open(sys.argv[1], 'rb').read()
pos, w, h, idat = 8, 0, 0, b''
while pos < len(data):
    n, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b'IHDR': w, h, depth, ctype = struct.unpack('>IIBB', body[:10])
    if kind == b'IDAT': idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
bpp = 4 if ctype == 6 else 3
stride = w * bpp
prev = bytearray(stride)
red = purple = 0
i = 0
for y in range(h):
    f = raw[i]; i += 1
    line = bytearray(raw[i:i + stride]); i += stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        if abs(r - 0xd6) < 24 and abs(g - 0x27) < 24 and abs(bl - 0x28) < 24: red += 1
        if abs(r - 0x7f) < 16 and abs(g - 0x3c) < 16 and abs(bl - 0x8d) < 16: purple += 1
    prev = line
print(w, h, red, purple)
)PY";
  const std::string png = (dir / "story.png").string();
  const std::string cmd =
      "cd " + dir.string() + " && HOME=" + dir.string() +
      " timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run"
      " --disable-component-update --disable-sync --user-data-dir=" + (dir / "profile").string() +
      " --screenshot=" + png + " --window-size=1000," + std::to_string(height) + " file://" +
      (dir / "story.svg").string() + " > chromium.log 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "chromium failed; see " << dir / "chromium.log";
  ASSERT_TRUE(std::filesystem::exists(png));
  const std::string check = "python3 " + (dir / "check.py").string() + " " + png + " > " + (dir / "check.txt").string();
  ASSERT_EQ(std::system(check.c_str()), 0) << "PNG check failed";
  std::ifstream in(dir / "check.txt");
  unsigned w = 0, hh = 0, red = 0, purple = 0;
  in >> w >> hh >> red >> purple;
  EXPECT_EQ(w, 1000u);
  EXPECT_EQ(hh, static_cast<unsigned>(height));
  EXPECT_GE(red, 300u) << "the budget lines and the over-budget bars are missing";
  EXPECT_GE(purple, 2000u) << "giant's stacked GIANT bar is missing";
  std::filesystem::remove_all(dir);
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
                          "pound --locks fine", "pound --bogus", "pound --cpus 2 extra", "pound --rounds 0",
                          "pound --user-ns -1"}) {
    EXPECT_EQ(run_cli(bad, &out), 2) << bad << "\n" << out;
    EXPECT_NE(out.find("smplock"), std::string::npos) << bad << "\n" << out;
  }
  EXPECT_EQ(run_cli("pound --json /nonexistent-dir/x.json --seconds 0.05 --cpus 1 --locks ozone --no-report", &out), 2)
      << out;
}

TEST(PoundCommand, TellsTheStoryOnAScreenAndSavesJsonThatReportReadsBack) {
  const std::string path = ::testing::TempDir() + "pound_test.json";
  const std::string svg = ::testing::TempDir() + "pound_test.svg";
  std::string out;
  ASSERT_EQ(run_cli("pound --cpus 2 --seconds 0.2 --rounds 3 --json " + path + " --svg " + svg, &out), 0) << out;
  // The story table, the verdicts and what the machine took; no per-step dumps by default.
  for (const char* want : {"smplock pound: the seed's story in 5 steps", "what it split", "GIANT -> short list",
                           "NP -> npp", "TS -> PS TF EV TP TC", "PM -> PM CP", "the machine took"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  EXPECT_EQ(out.find("== giant"), std::string::npos) << out;
  const auto lines = lines_of(out);
  EXPECT_LE(lines.size(), 45u) << out;
  for (const auto& line : lines) EXPECT_LE(line.size(), 100u) << line;

  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const std::string json = text.str();
  for (const char* want : {"\"schema\": \"smplock-pound\"", "\"smplock-stats\"", "\"ops_per_second\"",
                           "\"locks\": \"coarse\"", "\"story\"", "\"run_delay_share\"", "\"waits_sampled\""})
    EXPECT_NE(json.find(want), std::string::npos) << want;
  // `smplock report` shows the same story table, then one table per lock set.
  std::string report;
  ASSERT_EQ(run_cli("report " + path, &report), 0) << report;
  for (const auto& line : lines)
    for (const char* step : {"giant ", "coarse ", "pool ", "threads ", "ozone "})
      if (line.rfind(step, 0) == 0) EXPECT_NE(report.find(line + "\n"), std::string::npos) << line << "\n" << report;
  for (const char* want : {"lock set: giant", "lock set: threads", "lock set: ozone", "GIANT", "TS"})
    EXPECT_NE(report.find(want), std::string::npos) << want << "\n" << report;
  // The picture, from the run and from the file, is the same story.
  std::ifstream pic(svg);
  std::stringstream drawn;
  drawn << pic.rdbuf();
  EXPECT_NE(drawn.str().find("5. ozone"), std::string::npos);
  const std::string again = ::testing::TempDir() + "pound_test_report.svg";
  ASSERT_EQ(run_cli("report " + path + " --svg " + again, &report), 0) << report;
  std::ifstream pic2(again);
  std::stringstream drawn2;
  drawn2 << pic2.rdbuf();
  EXPECT_EQ(drawn.str(), drawn2.str());
}

TEST(PoundCommand, VerboseAddsEachStepsReport) {
  std::string out;
  ASSERT_EQ(run_cli("pound --cpus 2 --seconds 0.1 --rounds 1 --locks threads --verbose", &out), 0) << out;
  for (const char* want : {"== threads", "throughput:", "all 1", "contend%"})
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
}

TEST(PoundCommand, OneLockSet) {
  std::string out;
  ASSERT_EQ(run_cli("pound --cpus 1 --seconds 0.1 --locks coarse --no-report", &out), 0) << out;
  EXPECT_NE(out.find("\ncoarse "), std::string::npos) << out;
  EXPECT_EQ(out.find("\nozone "), std::string::npos) << out;
  EXPECT_EQ(out.find("the story holds"), std::string::npos) << out;  // nothing to compare with
  EXPECT_EQ(out.find("out of order"), std::string::npos) << out;
}
#endif

}  // namespace
