// smplock/stats.hpp: contention statistics, read while the program runs.
//
//   Counters      every counter of one lock class (or level), generated from detail/counters.hpp.
//   CounterInfo   a counter's JSON key, description and how it combines (sum or maximum);
//                 kCounters lists them all, in report order.
//   CallSite      one place contended acquisitions came from (an address; the report library
//                 fills in the function and file:line).
//   Parent        a class found held directly below this one when nesting was sampled.
//   ClassStats    one lock class (name + level) over the window.
//   LevelStats    every class of one level added together (OZONE's smplevel[XX] view).
//   Snapshot      the window: its times, the CPUs, the classes and the levels.
//   snapshot()    the counters since the last reset() (or since the program started).
//   reset()       starts a new window.
//   set_hold_timing() / hold_timing()   measure hold times (off by default: it reads the clock on
//                 the sampled acquisitions, 1 in 64, and their releases).
//
// Cost. The uncontended acquire bumps one counter the acquiring CPU owns (a plain load and store)
// and, for one acquisition in 64 per CPU and class, records which lock was held directly below
// (nesting, for the "too many locks" question). Waits are timed on the contended path only.
//
// reset() never writes a counter a CPU owns: it records a baseline that later snapshots subtract.
// Sums are therefore exact for the window. Maxima: the shared ones (max_wait_ns) are cleared by
// reset(); the CPU-owned max_hold_ns cannot be, so over a window that does not start at program
// start it shows only holds longer than that CPU's maximum before the reset (0 if there were none).
//
// Printing, JSON and the picture are in the report library (smplock/report.hpp, target
// smplock::report), so the core library stays free of third-party code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "smplock/detail/counters.hpp"
#include "smplock/level.hpp"

namespace smplock::stats {

struct Counters {
#define SMPLOCK_STATS_FIELD(name, key, text) std::uint64_t name = 0;
  SMPLOCK_CLASS_COUNTERS(SMPLOCK_STATS_FIELD)
#undef SMPLOCK_STATS_FIELD

  // Adds `other` in: sums add, maxima take the larger.
  void combine(const Counters& other);
  friend bool operator==(const Counters&, const Counters&) = default;
};

struct CounterInfo {
  const char* key;                  // the JSON key and report column name
  const char* description;
  bool maximum;                     // combined with max() rather than +
  std::uint64_t Counters::*member;
};

namespace detail {
constexpr bool is_maximum(std::string_view key) { return key.substr(0, 4) == "max_"; }
}  // namespace detail

inline constexpr CounterInfo kCounters[] = {
#define SMPLOCK_STATS_INFO(name, key, text) {key, text, detail::is_maximum(key), &Counters::name},
    SMPLOCK_CLASS_COUNTERS(SMPLOCK_STATS_INFO)
#undef SMPLOCK_STATS_INFO
};

struct CallSite {
  std::uint64_t pc = 0;         // return address of the contended acquire (in this process)
  std::uint64_t count = 0;      // contended acquisitions from here in the window
  std::string function;         // filled by stats::symbolize() (report library); may stay empty
  std::string file;
  unsigned line = 0;
  friend bool operator==(const CallSite&, const CallSite&) = default;
};

struct Parent {
  std::string name;             // the class held directly below
  Level level = Level::Null;
  std::uint64_t samples = 0;    // nesting samples that found it there
  friend bool operator==(const Parent&, const Parent&) = default;
};

struct ClassStats {
  unsigned id = 0;              // the class id in this process (1..)
  std::string name;
  Level level = Level::Null;
  Counters counters;
  std::vector<CallSite> call_sites;  // most contended first
  std::uint64_t other_sites = 0;     // contended acquisitions from sites past the table
  std::vector<Parent> parents;       // most samples first; counters.nest_nested minus their sum
                                     // were under classes past the per-CPU slots
  friend bool operator==(const ClassStats&, const ClassStats&) = default;
};

struct LevelStats {
  Level level = Level::Null;
  unsigned classes = 0;         // classes at this level
  Counters counters;            // the classes' counters combined
  friend bool operator==(const LevelStats&, const LevelStats&) = default;
};

struct Snapshot {
  std::uint64_t start_ns = 0;        // window start, monotonic clock (reset() or program start)
  std::uint64_t end_ns = 0;          // when the snapshot was taken
  unsigned cpus = 0;                 // the most CPUs (threads) that took locks at once
  unsigned processors = 0;           // processors online
  bool hold_timing = false;          // whether hold timing was on when the snapshot was taken
  std::uint64_t nest_sample_period = 0;
  std::vector<ClassStats> classes;   // by class id
  std::vector<LevelStats> levels;    // by level, only levels with classes

  std::uint64_t window_ns() const { return end_ns > start_ns ? end_ns - start_ns : 0; }
  // CPU time available in the window: window_ns() * cpus (at least 1 ns).
  double cpu_ns() const;
  // A class's (or level's) waiting as a percentage of that CPU time. The seed's budget is 1%.
  double contention_percent(const Counters& c) const;
  // The class (name, level), or nullptr.
  const ClassStats* find(std::string_view name, Level level) const;
  friend bool operator==(const Snapshot&, const Snapshot&) = default;
};

// The seed's budget: a lock whose contention exceeds 1% of CPU time is worth splitting.
inline constexpr double kBudgetPercent = 1.0;

// The counters since the last reset(), or since the program started. Safe from any thread while
// others run; costs a pass over the CPUs that have attached and the registered classes.
Snapshot snapshot();

// Starts a new window (see the banner: a baseline, no CPU's counter is written).
void reset();

// Hold timing: when on, the sampled acquisitions (a class's first on a CPU, then every
// nest_sample_period-th: the same ones nesting is sampled on) read the clock, and so do their
// releases (which take the slow path), filling hold_ns, hold_samples and max_hold_ns. The report
// scales the mean hold up to the class's acquisitions. Off by default.
void set_hold_timing(bool on);
bool hold_timing();

// Adds the classes' counters up by level (what snapshot() puts in Snapshot::levels).
std::vector<LevelStats> by_level(const std::vector<ClassStats>& classes);

}  // namespace smplock::stats
