// smplock/report.hpp: the contention report, from a stats::Snapshot (target smplock::report).
//
//   ReportOptions   the budget and the thresholds the verdicts use.
//   ClassVerdict    one class judged: its contention, whether to split it, whether it is one lock
//                   too many (nearly always taken directly inside the same other class).
//   Analysis        every class judged, most contended first, and the two candidate lists.
//   symbolize()     names the call sites: function (dladdr), file:line (libdw, where debug
//                   information exists). Only meaningful in the process that took the snapshot.
//   report_text()   the table sorted by contention, the candidates and the per-level view.
//   to_json() / from_json()   the versioned JSON form (docs/stats.md); from_json(to_json(s)) == s.
//   snapshots_from_json()     reads a file holding one snapshot or several (smplock pound --json).
//   to_svg()        a self-contained picture: contention per class against the budget line,
//                   wait and hold times.
//   trace_from_json()  reads a `smplock record` trace (schema smplock-trace, docs/record.md) into
//                   a Snapshot, so the same table, JSON and picture come from it;
//                   report_trace_text() prints its table with a line on what only a trace has.
//   Sink            where text goes: a callback; the FILE* overloads write to a stream.
//
// The library never writes to stdout by itself.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "smplock/stats.hpp"

namespace smplock::stats {

struct ReportOptions {
  double budget_percent = kBudgetPercent;  // contention above this is a split candidate
  double nested_share = 0.95;              // "too many": share of samples under one parent class
  std::uint64_t min_nest_samples = 4;      // fewer samples than this: no nesting verdict
  std::size_t call_sites = 3;              // call sites shown per class in the text report
  bool show_idle = false;                  // list classes with no acquisitions in the window
  // The snapshot came from a `smplock record` trace (trace_from_json()): the text shows "-" for
  // what a trace does not count (spins, parks, queue lengths, the longest hold, nesting samples)
  // instead of zeros, and leaves the nesting verdict to `smplock levels --infer`.
  bool from_trace = false;
};

struct ClassVerdict {
  const ClassStats* cls = nullptr;
  double contention_percent = 0;   // wait_ns / (window * cpus), in percent
  bool split = false;              // over the budget: worth splitting
  const Parent* usual_parent = nullptr;  // the class most often held directly below, if any
  double parent_share = 0;         // usual_parent's samples / all nesting samples of the class
  bool too_many = false;           // parent_share >= nested_share: merge it into usual_parent
                                   // (never for an IRQ line's lock: handlers nest by interrupting)
};

struct Analysis {
  std::vector<ClassVerdict> classes;   // most contended first (ties: most acquisitions first)
  std::vector<ClassVerdict> split;     // the split candidates, most contended first
  std::vector<ClassVerdict> too_many;  // the "too many locks" candidates
  double total_percent = 0;            // all classes' waiting, in percent of CPU time
};

// A class's total hold time over the window, estimated from its timed holds: hold timing measures
// one acquisition in nest_sample_period (the sampled ones), so the mean of those times the class's
// acquisitions. 0 when no hold was timed.
double estimated_hold_ns(const Counters& c);

// Judges every class of `s`. The verdicts point into `s`: keep it alive while they are used.
Analysis analyze(const Snapshot& s, const ReportOptions& options = {});

// Fills CallSite::function/file/line for call sites not yet named, from this process's symbols.
void symbolize(Snapshot& s);

using Sink = std::function<void(std::string_view)>;

void report_text(const Snapshot& s, const Sink& out, const ReportOptions& options = {});
void report_text(const Snapshot& s, std::FILE* out, const ReportOptions& options = {});

// JSON. The schema is named and versioned; from_json() accepts version kJsonVersion and refuses
// anything else with a JsonError saying what was wrong and where ("classes[1].counters.wait_ns:
// missing").
inline constexpr const char* kJsonSchema = "smplock-stats";
inline constexpr int kJsonVersion = 1;

class JsonError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string to_json(const Snapshot& s, int indent = 2);
Snapshot from_json(std::string_view text);

// A file may also hold several snapshots: an object with a "sets" array whose elements each have
// a "stats" snapshot and a "locks" name (what `smplock pound --json` writes, one per lock set).
// snapshots_from_json() reads either kind; a plain snapshot comes back alone, with an empty name.
struct NamedSnapshot {
  std::string name;
  Snapshot snapshot;
};
std::vector<NamedSnapshot> snapshots_from_json(std::string_view text);
void report_json(const Snapshot& s, std::FILE* out);

// The picture, as one SVG document with no external references. Several snapshots are drawn one
// below the other, each under its name.
std::string to_svg(const Snapshot& s, const ReportOptions& options = {});
std::string to_svg(const std::vector<NamedSnapshot>& sets, const ReportOptions& options = {});
void report_svg(const Snapshot& s, std::FILE* out, const ReportOptions& options = {});

// A trace that `smplock record` wrote for one process (schema "smplock-trace", version 1, described
// in docs/record.md). Its classes carry the same fields as smplock::stats (acquisitions, contended,
// wait, longest wait, sampled holds, contended call sites) and become a Snapshot: the window is the
// process's wall time, the CPUs its online processors, every class at Level::Null (a program that
// does not use smplock has no levels yet). The order edges and same-class nesting are only counted
// here: `smplock levels --infer` is their report.
inline constexpr const char* kTraceSchema = "smplock-trace";
inline constexpr int kTraceVersion = 1;
// The counters a trace fills (the JSON keys of kCounters); the others stay 0.
inline constexpr std::string_view kTraceCounters[] = {"acquisitions", "contended",    "wait_ns",
                                                      "max_wait_ns",  "hold_ns",      "hold_samples"};

struct TraceInfo {
  std::string program;               // the executable, as the trace names it
  std::vector<std::string> argv;
  std::uint64_t pid = 0, ppid = 0;   // the process this trace is of, and its parent
  std::uint64_t threads = 0;         // threads that took a lock
  std::size_t classes = 0;           // lock classes in the trace
  std::size_t edges = 0;             // class order edges (B taken while A held)
  std::size_t nesting = 0;           // classes with two instances held together (same-class nesting)
  std::string end_by;                // how the process ended, where the trace says: "exit", "exec", "signal"
  std::uint64_t end_signal = 0;      // the fatal signal, for "signal"
};

struct TraceReport {
  Snapshot snapshot;
  TraceInfo trace;
};

// Whether `text` is a JSON object whose "schema" names a trace (finished or raw, any version): the
// report reads it with trace_from_json() rather than from_json(). False for anything else.
bool is_trace_json(std::string_view text);

// Reads a finished trace; a JsonError says what is wrong and where ("classes[2].wait_ns: missing"),
// or that the version is not 1, or that a raw trace needs finishing first.
TraceReport trace_from_json(std::string_view text);

// The table of a trace: a line naming the process (one trace per process), report_text() with
// from_trace set, then one line pointing at `smplock levels --infer <file>` for the order edges and
// nesting. `file` is the trace's path as the user gave it.
void report_trace_text(const TraceReport& t, std::string_view file, const Sink& out, ReportOptions options = {});

// The title the picture and the text give a trace: "trace of /usr/bin/prog (pid 123)".
std::string trace_title(const TraceInfo& t);

// The whole thing for a running program: snapshot(), symbolize(), the text to `out`, and the JSON
// to `json_path` when it is not empty. Returns false if the JSON file could not be written.
bool report_now(std::FILE* out, const std::string& json_path = {}, const ReportOptions& options = {});

// Durations and counts as the report prints them ("1.25 ms", "12.3k").
std::string format_ns(double ns);
std::string format_count(std::uint64_t n);

}  // namespace smplock::stats
