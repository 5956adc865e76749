// smplock/pound_story.hpp: the seed's story told by the pound workload, step by step (target
// smplock::pound; `smplock pound` prints it, `smplock report` reads it back from its JSON).
//
//   run_rounds()    runs the steps in interleaved short rounds (forward, then backward, ...), so
//                   whatever else the machine does falls on every step alike.
//   Story           what the rounds measured, per step: medians with their spread (throughput,
//                   contention per lock class, what the machine took away, the sampled waits).
//   make_story()    the figures from the rounds' results.
//   split_figures() the contention of the lock a step split, before (in the step before) and after
//                   (the largest of the classes that took its data over).
//   verdict()       one line per step; story_holds(): every step in order.
//   fairness()      whether the machine left the CPU threads enough of the processors for a fair
//                   comparison, with the figure and how to get a fair run.
//   story_text()    the screen: one row per step and its verdict, within 100 columns.
//   story_to_json() / story_from_json()   the "story" object of a `smplock pound --json` file.
//   story_svg()     the picture: the steps side by side on one scale, then each step's classes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "smplock/pound.hpp"

namespace smplock::pound {

// A figure over the rounds: the median, the lowest and the highest round.
struct Spread {
  double median = 0, low = 0, high = 0;
};
Spread spread_of(std::vector<double> values);

// One lock class in one step.
struct ClassFigure {
  std::string name;
  unsigned level = 0;
  Spread contention;              // % of CPU time spent waiting for it (stats: wait / (window x CPUs))
  // The timer thread's samples of waits for it, over every round: behind a running holder, behind
  // a holder whose thread had lost its processor, or the waiter itself off the processor.
  std::uint64_t running = 0, preempted_holder = 0, waiter_off_cpu = 0;
  std::uint64_t samples() const { return running + preempted_holder + waiter_off_cpu; }
};

struct StepFigures {
  LockSetKind locks = LockSetKind::Giant;
  std::string name, title, changed, split;
  std::vector<std::string> into;  // the classes that took the split one's data over (empty: all)
  unsigned rounds = 0;
  Spread ops_per_second;
  Spread total_contention;        // every class, % of CPU time
  Spread cpu_share;               // CPU time the CPU threads got / (window x CPUs)
  Spread run_delay_share;         // time they waited for a processor / (window x CPUs); -1: unknown
  double involuntary_switches = 0;  // median per round
  std::vector<ClassFigure> classes;  // most contended first (median), classes taken in the window
  unsigned checks = 0, failures = 0;  // end-of-run invariants, over every round
  // The sampled waits of every class together.
  std::uint64_t running = 0, preempted_holder = 0, waiter_off_cpu = 0;
  std::uint64_t samples() const { return running + preempted_holder + waiter_off_cpu; }
  // A class's contention behind running holders: its median contention times the share of its
  // sampled waits that were behind a running holder (the step's share when it has few samples).
  double running_contention(const ClassFigure& c) const;
};

struct Story {
  unsigned cpus = 0;
  unsigned rounds = 0;
  double seconds_per_round = 0;   // per step and round
  double user_ns = 0;             // the user-mode stretch after each system call
  double budget_percent = 1.0;    // the seed's "less than 1% cpu time"
  std::string cpu_model;
  unsigned processors = 0;
  double load_average = -1;       // the 1-minute load average when the run began (-1: unknown)
  std::uint64_t seed = 1;
  std::vector<StepFigures> steps;
};

// Called between and during rounds: which round, which step, seconds done of this round's step.
using RoundProgress =
    std::function<void(unsigned round, unsigned rounds, LockSetKind step, double done, std::uint64_t ops)>;

// Runs every step in `steps` `rounds` times, config.seconds each time, interleaved: round 1 runs
// them in order, round 2 backwards, and so on. Returns the results per step, per round. Throws
// what run() throws.
std::vector<std::vector<Result>> run_rounds(const Config& config, const std::vector<LockSetKind>& steps,
                                            unsigned rounds, const RoundProgress& progress = {});

// The round whose throughput is the median of a step's rounds (its report stands for the step).
std::size_t median_round(const std::vector<Result>& rounds);

Story make_story(const Config& config, const std::vector<std::vector<Result>>& results);

// Contention shown in the story: measured, or behind running holders only when the machine took
// a noticeable share of the processors (over kBusyRunDelay).
inline constexpr double kBusyRunDelay = 0.02;   // run delay share above which waits are sorted
inline constexpr double kUnfairRunDelay = 0.10; // above this the comparison is not fair
bool busy(const Story& s);
double shown_contention(const Story& s, const StepFigures& step, const ClassFigure& c);

struct SplitFigures {
  bool present = false;           // false for the first step, or when the story lacks the step before
  std::string before_class;       // the split class, in the step before
  double before = 0;
  std::string after_class;        // the largest of the classes that took its data over, in this step
  double after = 0;
};
SplitFigures split_figures(const Story& s, std::size_t step);

// The step's top class (most contended, as shown), or nullptr when no lock was taken.
const ClassFigure* top_class(const Story& s, const StepFigures& step);

std::string verdict(const Story& s, std::size_t step);
// Whether every step is in order: its split lock under the budget (coarse, which spreads GIANT
// over the whole short list, excepted: its top lock is the next to split), its throughput up or
// level against the step before, and the final step with every class under the budget. `why`
// says where it is not. Without `judge_throughput` (an unfair run), contention alone is judged.
bool story_holds(const Story& s, std::string* why = nullptr, bool judge_throughput = true);

struct Fairness {
  bool fair = true;
  double run_delay = 0;           // the median run delay share over the steps (-1: unknown)
  std::string line;               // one line (or two) for the screen
};
Fairness fairness(const Story& s);

// The screen: a header (unless `header` is false), the story table (one row per step), a verdict
// per step, whether the story holds, and the fairness lines.
std::string story_text(const Story& s, bool header = true);
// The header alone: steps, CPUs, rounds, user mode, machine.
std::string story_header(const Story& s);

// The "story" object of a pound JSON file, and back. story_from_json() takes the whole file and
// throws std::runtime_error saying what is missing.
std::string story_to_json(const Story& s);
Story story_from_json(std::string_view pound_file);
bool has_story(std::string_view pound_file);

// The picture (a self-contained SVG document).
std::string story_svg(const Story& s);

}  // namespace smplock::pound
