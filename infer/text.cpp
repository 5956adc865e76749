// The text answer: what the traces were, the potential deadlocks with their verdicts, the proposed
// level table, the classes that wait for a cycle to be broken, and the seed's two judgements. By
// default it fits a screen (a few cycles with each edge's top frames, the first rows of the table);
// verbose prints every cycle with each edge's two full stacks, and every class.
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "internal.hpp"

namespace smplock::infer {
namespace {

constexpr std::size_t kCyclesShown = 4;
constexpr std::size_t kRowsShown = 30;

std::string format_ns(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.3g} us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.3g} ms", ns / 1e6);
  return fmt::format("{:.3g} s", ns / 1e9);
}

std::string top(const Stack& s) { return s.empty() ? std::string("(no stack)") : describe(s.front()); }

class Writer {
 public:
  Writer(const Graph& g, const Result& r, const Sink& out, bool verbose) : g_(g), r_(r), out_(out), verbose_(verbose) {}

  void line(const std::string& s = {}) { out_(s + "\n"); }
  const std::string& name(std::size_t k) const { return g_.classes[k].name; }

  void sources() {
    std::set<std::string> programs;
    for (const Source& s : g_.sources) programs.insert(s.program.empty() ? std::string("?") : s.program);
    std::string progs;
    for (const std::string& p : programs) progs += (progs.empty() ? "" : ", ") + p;
    line(fmt::format("{} trace{} of {}: {} classes, {} order edges, same-class nesting in {}", g_.sources.size(),
                     g_.sources.size() == 1 ? "" : "s", progs, g_.classes.size(), g_.edges.size(),
                     g_.nesting.empty() ? std::string("none") : fmt::format("{}", g_.nesting.size())));
    if (verbose_)
      for (const Source& s : g_.sources)
        line(fmt::format("  {}: pid {}, {} threads, {} CPUs, {}", s.path, s.pid, s.threads, s.cpus,
                         format_ns(static_cast<double>(s.wall_ns))));
  }

  void edge(std::size_t e) {
    const EdgeInfo& x = g_.edges[e];
    std::string marks;
    if (x.trylock_only()) marks += ", trylock only";
    else if (x.blocking < x.count) marks += fmt::format(", {} by trylock", x.count - x.blocking);
    if (x.read_read_only()) marks += ", read-read";
    line(fmt::format("    {} -> {}  x{}{}, {}", name(x.from), name(x.to), x.count, marks,
                     detail::thread_list(g_, x.threads, x.thread_count, x.more_threads)));
    if (!verbose_) {
      line(fmt::format("        {} taken at {}, then {} at {}", name(x.from), top(x.from_stack), name(x.to),
                       top(x.to_stack)));
      return;
    }
    line(fmt::format("        {} taken at:", name(x.from)));
    for (const Frame& f : x.from_stack) line("          " + describe(f));
    line(fmt::format("        {} taken at:", name(x.to)));
    for (const Frame& f : x.to_stack) line("          " + describe(f));
    if (!x.guards.empty()) {
      std::string gs;
      for (std::size_t k : x.guards) gs += (gs.empty() ? "" : ", ") + name(k);
      line("        held around it every time: " + gs);
    }
  }

  void deadlocks() {
    std::size_t real = 0;
    for (const Cycle& c : r_.cycles) real += c.real() ? 1 : 0;
    line();
    if (r_.components.empty()) {
      line("Potential deadlocks: none, the order graph has no cycle.");
    } else {
      line(fmt::format("Potential deadlocks: {} component{} of the order graph, {} cycle{}: {} can deadlock, {} cannot as observed",
                       r_.components.size(), r_.components.size() == 1 ? "" : "s", r_.cycles.size(),
                       r_.cycles.size() == 1 ? "" : "s", real, r_.cycles.size() - real));
    }
    for (std::size_t ci = 0; ci < r_.components.size(); ++ci)
      if (r_.components[ci].truncated)
        line(fmt::format("  component {} ({} classes) has more cycles than were listed; assumed able to deadlock",
                         ci + 1, r_.components[ci].classes.size()));
    // The cycles that can deadlock first, then the rest; numbers are the cycles' own.
    std::vector<std::size_t> order(r_.cycles.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_partition(order.begin(), order.end(), [&](std::size_t i) { return r_.cycles[i].real(); });
    std::size_t shown = 0;
    for (std::size_t i : order) {
      if (!verbose_ && shown == kCyclesShown) {
        line(fmt::format("  ... {} more cycles (--verbose, or --json)", order.size() - shown));
        break;
      }
      ++shown;
      const Cycle& c = r_.cycles[i];
      line(fmt::format("  cycle {}: {}   {}", i + 1, detail::cycle_path(g_, c),
                       c.real() ? std::string("CAN DEADLOCK") : detail::cycle_verdict(g_, c)));
      for (std::size_t e : c.edges) edge(e);
    }
    for (std::size_t n : r_.bad_nesting) {
      const NestInfo& x = g_.nesting[n];
      line(fmt::format("  same-class nesting out of address order: two {} held together, {} of {} times not in "
                       "address order, {}: can deadlock if two threads nest two of them in opposite orders",
                       name(x.cls), x.count - x.address_order, x.count,
                       detail::thread_list(g_, x.threads, x.threads.size(), false)));
      if (!x.stack.empty()) line("        at " + (verbose_ ? describe(x.stack.front()) : top(x.stack)));
    }
  }

  void levels() {
    line();
    if (r_.levels.empty()) {
      line("Proposed levels: none (no class can be leveled yet).");
    } else {
      line(fmt::format("Proposed levels: {} class{} in {} layer{}, {}..{}, {} apart", r_.levels.size(),
                       r_.levels.size() == 1 ? "" : "es", r_.layers, r_.layers == 1 ? "" : "s", detail::hex_level(r_.levels.front().level),
                       detail::hex_level(r_.levels.back().level), r_.step));
      line(fmt::format("  {:<6} {:<28} {:<9} {}", "level", "class", "kind", "made at"));
    }
    std::size_t shown = 0;
    for (const LevelEntry& l : r_.levels) {
      if (!verbose_ && shown == kRowsShown) {
        line(fmt::format("  ... {} more classes (--verbose, --table or --json)", r_.levels.size() - shown));
        break;
      }
      ++shown;
      const ClassInfo& c = g_.classes[l.cls];
      line(fmt::format("  {:<6} {:<28} {:<9} {}{}", detail::hex_level(l.level), c.name, c.kind, describe(c.site),
                       l.same_class_nesting ? "  [nests in address order]" : ""));
    }
    if (!r_.unleveled.empty()) {
      line(fmt::format("No level until a cycle is broken ({} classes):", r_.unleveled.size()));
      shown = 0;
      for (const Unleveled& u : r_.unleveled) {
        if (!verbose_ && shown == kRowsShown) {
          line(fmt::format("  ... {} more", r_.unleveled.size() - shown));
          break;
        }
        ++shown;
        line(fmt::format("  {:<28} {}", name(u.cls), u.reason));
      }
    }
    std::vector<const DroppedEdge*> exempt;
    for (const DroppedEdge& d : r_.dropped_edges)
      if (d.exempt) exempt.push_back(&d);
    if (!exempt.empty()) {
      line("Left out of the order, against the levels but unable to wait:");
      for (const DroppedEdge* d : exempt)
        line(fmt::format("  {} -> {}: {}", name(g_.edges[d->edge].from), name(g_.edges[d->edge].to), d->reason));
    }
  }

  void judgements() {
    const double cpu = g_.cpu_ns();
    line();
    if (r_.split.empty()) line("Split candidates: none, every class is within the 1% budget.");
    else line("Split candidates (waiting costs more than the budget of CPU time):");
    for (const Split& s : r_.split)
      line(fmt::format("  {:<28} {:.2f}% (wait {} of {} CPU time)", name(s.cls), s.percent,
                       format_ns(static_cast<double>(g_.classes[s.cls].wait_ns)), format_ns(cpu)));
    if (r_.too_many.empty()) line("Too many locks: none.");
    else line("Too many locks (nearly always taken directly inside one other class):");
    for (const TooMany& t : r_.too_many) {
      // A class judges classes: with several instances the outer lock serialises only the holders of
      // the same instance, which a class-level count cannot tell.
      const std::uint64_t outer = g_.classes[t.parent].instances;
      line(fmt::format("  {} is taken inside {} in {:.0f}% of its {} acquisitions: {} already serialises it{}",
                       name(t.cls), name(t.parent), 100 * t.share, g_.classes[t.cls].acquisitions, name(t.parent),
                       outer > 1 ? fmt::format(" (if it is the same one of its {} instances each time)", outer) : ""));
    }
  }

 private:
  const Graph& g_;
  const Result& r_;
  const Sink& out_;
  bool verbose_;
};

}  // namespace

void write_text(const Graph& g, const Result& r, const Sink& out, bool verbose) {
  Writer w(g, r, out, verbose);
  w.sources();
  w.deadlocks();
  w.levels();
  w.judgements();
}

}  // namespace smplock::infer
