// smplock/infer.hpp: a level table learned from traces of an unmodified program (target
// smplock::infer). The traces are what `smplock record` writes (schema "smplock-trace", version 1,
// /work/notes/trace-schema.md, documented in docs/record.md); this part reads them, merges them and
// judges them as the seed's author judged his lock set.
//
//   Frame, Stack      a call site, and a call stack, as the trace names them.
//   Graph             the class graph: classes, order edges, same-class nesting, and the traces it
//                     came from. load_trace() reads one file; merge() joins several by class key.
//   Cycle, Component  the strongly connected components of the graph and their elementary cycles,
//                     each judged: can it really deadlock, or why not.
//   Result            analyze(): the cycles, the proposed level table (classes layered by longest
//                     path over the kept edges, spread over the user range), the classes that cannot
//                     get a level until a cycle is broken, and the two judgements (split candidates,
//                     one lock too many).
//   write_text(), to_json(), to_table(), to_svg(), to_header()   the forms of the answer.
//
// Everything here is plain data and pure functions: no I/O except load_trace(), nothing printed.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace smplock::infer {

inline constexpr const char* kTraceSchema = "smplock-trace";
inline constexpr int kTraceVersion = 1;
inline constexpr const char* kTableSchema = "smplock-levels";
inline constexpr int kTableVersion = 1;

// Bad input: a file that is missing, unreadable, a directory, not JSON, or not a trace of a version
// this code reads. what() names the file and, for a schema fault, the path inside it
// ("t.json: edges[3].to: class 9 does not exist").
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Frame {
  std::string function;  // demangled; may be empty (then object + pc name it)
  std::string file;      // may be empty without debug information
  std::uint32_t line = 0;
  std::string object;
  std::string pc;
  bool operator==(const Frame&) const = default;
};
using Stack = std::vector<Frame>;

// "worker (main.c:55)", "worker", "prog+0x1234": the shortest name a person recognises.
std::string describe(const Frame& f);

// A thread is its process and its kernel id: two processes' threads are never the same thread.
struct Thread {
  std::int64_t pid = 0;
  std::int64_t tid = 0;
  auto operator<=>(const Thread&) const = default;
};

struct SiteCount {
  Frame frame;
  std::uint64_t count = 0;
};

struct ClassInfo {
  std::string key;   // stable across runs: what merge() joins on
  std::string name;
  std::string how;   // symbol, init, alloc, first-use
  std::string kind;  // mutex, recursive, rwlock, spin, mtx
  Frame site;        // where the class is made
  std::uint64_t instances = 0;
  std::uint64_t acquisitions = 0;
  std::uint64_t contended = 0;
  std::uint64_t wait_ns = 0;
  std::uint64_t max_wait_ns = 0;
  std::uint64_t hold_ns = 0;
  std::uint64_t hold_samples = 0;
  std::vector<SiteCount> contended_sites;  // most contended first
};

// `to` was acquired while `from` was held.
struct EdgeInfo {
  std::size_t from = 0;
  std::size_t to = 0;
  std::uint64_t count = 0;
  std::uint64_t blocking = 0;   // by a call that can wait (not a trylock)
  std::uint64_t read_read = 0;  // `from` read-held, `to` read-acquired
  std::vector<Thread> threads;  // distinct, sorted; a trace keeps at most 16 per edge
  std::uint64_t thread_count = 0;
  bool more_threads = false;    // more threads than thread_count says (a trace's "16+")
  std::vector<std::size_t> guards;  // classes held (besides `from`) at every occurrence, sorted
  Stack from_stack;             // where `from` was taken, first occurrence
  Stack to_stack;               // where `to` was taken, first occurrence

  bool trylock_only() const { return blocking == 0; }
  bool read_read_only() const { return count != 0 && read_read >= count; }
};

// Two instances of one class held together.
struct NestInfo {
  std::size_t cls = 0;
  std::uint64_t count = 0;
  std::uint64_t address_order = 0;  // occurrences that took the second at a higher address
  std::vector<Thread> threads;
  Stack stack;
  bool in_address_order() const { return address_order >= count; }
};

// One trace file that went into a graph.
struct Source {
  std::string path;
  std::string program;
  std::vector<std::string> argv;
  std::int64_t pid = 0;
  std::int64_t ppid = 0;
  std::uint64_t started_unix_ns = 0;
  std::uint64_t wall_ns = 0;
  std::uint32_t cpus = 1;
  std::uint64_t threads = 0;
  std::vector<std::int64_t> unknown_pids;
};

struct Graph {
  std::vector<Source> sources;
  std::vector<ClassInfo> classes;
  std::vector<EdgeInfo> edges;   // at most one per (from, to); never from == to
  std::vector<NestInfo> nesting; // at most one per class

  // CPU time the traced processes had: the sum over sources of wall time x CPUs.
  double cpu_ns() const;
  std::optional<std::size_t> find(std::string_view key) const;
};

// Reads one trace from its text; `source` names it in errors. Throws TraceError.
Graph read_trace(std::string_view text, const std::string& source);
// Reads one trace file. Throws TraceError (missing, a directory, unreadable, or read_trace's).
Graph load_trace(const std::string& path);

// Joins graphs by class key: counts and times summed (max_wait_ns: the largest), threads united,
// guards intersected (a guard held at every occurrence in every trace), the first trace's stacks
// and sites kept. Edges that were a self-edge in a trace become same-class nesting.
Graph merge(const std::vector<Graph>& graphs);

// --- the analysis -----------------------------------------------------------------------------------

struct Options {
  double budget_percent = 1.0;        // the seed's 1% of CPU time
  double nested_share = 0.90;         // "too many": share of acquisitions directly inside one class
  std::uint64_t min_nest_samples = 16;  // fewer acquisitions than this: no "too many" verdict
  std::size_t max_cycles = 2000;      // elementary cycles listed before giving up on a component
  std::uint8_t low = 0x10;            // the user range of levels
  std::uint8_t high = 0xDF;
  unsigned step = 8;                  // room between levels, as the seed's table has
};

// One elementary cycle: classes[i] -> classes[i+1] by edges[i], the last back to classes[0].
struct Cycle {
  std::size_t component = 0;
  std::vector<std::size_t> classes;
  std::vector<std::size_t> edges;
  // Why it cannot deadlock (any one suffices); all empty/false: it can.
  std::optional<Thread> one_thread;         // every edge seen on this one thread only (in the first
  std::size_t one_thread_processes = 0;     // of this many processes, each with one such thread)
  std::vector<std::size_t> common_guards;   // held across every edge
  std::vector<std::size_t> trylock_edges;   // edges that were only ever trylocks
  bool read_read = false;                   // every edge read-read
  bool real() const { return !one_thread && common_guards.empty() && trylock_edges.empty() && !read_read; }
  // Cannot deadlock as observed, but only because of who ran it (one thread, a guard): the order is
  // still two ways, so its classes wait for a person to choose one.
  bool needs_choice() const { return !real() && trylock_edges.empty() && !read_read; }
};

struct Component {
  std::vector<std::size_t> classes;  // sorted
  std::vector<std::size_t> cycles;   // indices into Result::cycles
  bool truncated = false;            // more than Options::max_cycles: not all listed
  bool real = false;                 // some cycle can deadlock (or truncated: assumed so)
};

struct LevelEntry {
  std::size_t cls = 0;
  unsigned layer = 0;    // 0: taken first (nothing observed outside it)
  std::uint8_t level = 0;
  bool same_class_nesting = false;  // two instances were held together (allowed in address order)
};

struct Unleveled {
  std::size_t cls = 0;
  std::string reason;    // "cycle 1", "cycle 2 (one thread)", ...
};

struct DroppedEdge {
  std::size_t edge = 0;
  std::string reason;
  bool exempt = false;   // leveled at both ends, but against the levels: a trylock or a read-read
                         // order that cannot wait (an enforcer should let it pass)
};

struct Split {
  std::size_t cls = 0;
  double percent = 0;    // wait time / CPU time, in percent
};

struct TooMany {
  std::size_t cls = 0;
  std::size_t parent = 0;  // the class it is nearly always taken directly inside
  double share = 0;        // edge count / acquisitions
};

struct Result {
  std::vector<Component> components;  // the strongly connected components of more than one class
  std::vector<Cycle> cycles;          // numbered from 1 in every output
  std::vector<std::size_t> bad_nesting;  // NestInfo indices not always in address order
  std::vector<LevelEntry> levels;     // lowest level first (ties: by name)
  std::vector<Unleveled> unleveled;
  std::vector<std::size_t> kept_edges;    // the order the levels respect
  std::vector<DroppedEdge> dropped_edges; // every other edge, and why
  unsigned layers = 0;
  unsigned step = 0;                   // levels apart, 8 where room allows
  std::vector<double> contention;      // per class, percent of CPU time waiting
  std::vector<Split> split;            // most contended first
  std::vector<TooMany> too_many;

  const LevelEntry* level_of(std::size_t cls) const;
  const Unleveled* unleveled_of(std::size_t cls) const;
};

Result analyze(const Graph& g, const Options& options = {});

// --- the forms of the answer --------------------------------------------------------------------------

using Sink = std::function<void(std::string_view)>;

// The screenful: sources, potential deadlocks, the table, the judgements. `verbose`: every cycle,
// every class, and each edge's two full stacks.
void write_text(const Graph& g, const Result& r, const Sink& out, bool verbose = false);
// Everything, as JSON (schema "smplock-infer", version 1).
std::string to_json(const Graph& g, const Result& r);
// The level table `smplock enforce --levels` reads (schema "smplock-levels", version 1).
std::string to_table(const Graph& g, const Result& r);
// The order graph drawn in its levels: one layer per row, top to bottom; cycles in red.
std::string to_svg(const Graph& g, const Result& r);
// A C++ header: namespace levels { inline constexpr smplock::Level Name{0x18}; ... }.
std::string to_header(const Graph& g, const Result& r);

// A valid, distinct C++ identifier per class, from its name (used by to_header()).
std::vector<std::string> identifiers(const Graph& g);

}  // namespace smplock::infer
