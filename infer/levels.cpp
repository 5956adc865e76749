// The proposed level table. Which classes get a level, which edges the levels must respect, and
// the layering:
//   - a class on a cycle that can deadlock gets no level until the cycle is broken; nor does one on
//     a cycle that cannot deadlock only because of who ran it (one thread, a common guard): its two
//     orders are both real code, and a level table holds one, so a person must choose;
//   - every other edge between leveled classes is kept, except a trylock-only or read-read-only edge
//     that would close a cycle (it is what makes its cycle harmless): such an edge is left out and
//     marked exempt, so an enforcer can let it pass. Those edges are tried most frequent first, so
//     the table keeps as much of the observed order as it can;
//   - layers by longest path over the kept edges (the fewest layers that respect every kept edge:
//     a class sits one layer below the deepest class ever held when it was taken);
//   - the layers spread over the user range 0x10..0xDF, 8 apart where they fit (the seed's table
//     leaves such gaps for the levels a person adds later), closer when there are more than 26.
#include <algorithm>
#include <deque>

#include <fmt/format.h>

#include "internal.hpp"

namespace smplock::infer::detail {
namespace {

// Whether `to` reaches `from` over `adj` (adding from -> to would close a cycle).
bool reaches(const std::vector<std::vector<std::size_t>>& adj, std::size_t to, std::size_t from) {
  std::vector<bool> seen(adj.size(), false);
  std::vector<std::size_t> todo{to};
  seen[to] = true;
  while (!todo.empty()) {
    const std::size_t v = todo.back();
    todo.pop_back();
    if (v == from) return true;
    for (std::size_t w : adj[v])
      if (!seen[w]) {
        seen[w] = true;
        todo.push_back(w);
      }
  }
  return false;
}

}  // namespace

void propose_levels(const Graph& g, const Options& options, Result& r) {
  const std::size_t n = g.classes.size();
  std::vector<std::string> reason(n);  // non-empty: unleveled, and why
  for (std::size_t ci = 0; ci < r.components.size(); ++ci)
    if (r.components[ci].truncated)
      for (std::size_t k : r.components[ci].classes)
        if (reason[k].empty())
          reason[k] = fmt::format("component {}: too many cycles to list, assumed able to deadlock", ci + 1);
  for (int pass = 0; pass < 2; ++pass)  // the cycles that can deadlock name their classes first
    for (std::size_t i = 0; i < r.cycles.size(); ++i) {
      const Cycle& c = r.cycles[i];
      const bool take = pass == 0 ? c.real() : c.needs_choice();
      if (!take) continue;
      const std::string why = pass == 0 ? fmt::format("cycle {}: can deadlock", i + 1)
                                        : fmt::format("cycle {}: {}; choose one order", i + 1, cycle_verdict(g, c));
      for (std::size_t k : c.classes)
        if (reason[k].empty()) reason[k] = why;
    }

  // Kept edges: every edge between leveled classes that can wait and is not read-read only.
  std::vector<std::vector<std::size_t>> adj(n);
  std::vector<std::size_t> optional;
  for (std::size_t e = 0; e < g.edges.size(); ++e) {
    const EdgeInfo& x = g.edges[e];
    if (!reason[x.from].empty() || !reason[x.to].empty()) {
      r.dropped_edges.push_back({e, fmt::format("{} has no level", g.classes[reason[x.from].empty() ? x.to : x.from].name),
                                 false});
      continue;
    }
    if (x.trylock_only() || x.read_read_only()) {
      optional.push_back(e);
      continue;
    }
    r.kept_edges.push_back(e);
    adj[x.from].push_back(x.to);
  }
  std::stable_sort(optional.begin(), optional.end(),
                   [&](std::size_t a, std::size_t b) { return g.edges[a].count > g.edges[b].count; });
  for (std::size_t e : optional) {
    const EdgeInfo& x = g.edges[e];
    if (reaches(adj, x.to, x.from)) {
      r.dropped_edges.push_back(
          {e, x.trylock_only() ? "only ever a trylock, which never waits" : "read-read only: readers do not wait for readers",
           true});
      continue;
    }
    r.kept_edges.push_back(e);
    adj[x.from].push_back(x.to);
  }
  std::sort(r.kept_edges.begin(), r.kept_edges.end());

  // Longest path, in topological order (Kahn). Every cycle of kept edges was ruled out above; a
  // class left over would mean one was missed, and gets no level rather than a wrong one.
  std::vector<std::size_t> indegree(n, 0), layer(n, 0);
  for (std::size_t v = 0; v < n; ++v)
    for (std::size_t w : adj[v]) ++indegree[w];
  std::deque<std::size_t> ready;
  for (std::size_t v = 0; v < n; ++v)
    if (indegree[v] == 0) ready.push_back(v);
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    const std::size_t v = ready.front();
    ready.pop_front();
    placed[v] = true;
    for (std::size_t w : adj[v]) {
      layer[w] = std::max(layer[w], layer[v] + 1);
      if (--indegree[w] == 0) ready.push_back(w);
    }
  }
  for (std::size_t v = 0; v < n; ++v)
    if (!placed[v] && reason[v].empty()) reason[v] = "on a cycle of kept edges (not expected)";

  std::size_t layers = 0;
  for (std::size_t v = 0; v < n; ++v)
    if (reason[v].empty()) layers = std::max(layers, layer[v] + 1);
  const unsigned span = options.high > options.low ? options.high - options.low : 0;
  unsigned step = options.step;
  if (layers > 1) step = std::min<unsigned>(step, span / static_cast<unsigned>(layers - 1));
  if (step == 0) step = 1;
  r.layers = static_cast<unsigned>(layers);
  r.step = step;

  std::vector<bool> nests(n, false);
  for (const NestInfo& x : g.nesting)
    if (x.count != 0) nests[x.cls] = true;
  for (std::size_t v = 0; v < n; ++v) {
    if (!reason[v].empty()) continue;
    const std::size_t offset = layer[v] * step;
    if (offset > span) {
      reason[v] = fmt::format("no room: more than {} layers", span + 1);
      continue;
    }
    r.levels.push_back({v, static_cast<unsigned>(layer[v]), static_cast<std::uint8_t>(options.low + offset), nests[v]});
  }
  std::sort(r.levels.begin(), r.levels.end(), [&](const LevelEntry& a, const LevelEntry& b) {
    if (a.level != b.level) return a.level < b.level;
    return g.classes[a.cls].name < g.classes[b.cls].name;
  });
  for (std::size_t v = 0; v < n; ++v)
    if (!reason[v].empty()) r.unleveled.push_back({v, reason[v]});
  // A class left without room drops its kept edges too, so the kept edges always sit between levels.
  std::erase_if(r.kept_edges, [&](std::size_t e) {
    const EdgeInfo& x = g.edges[e];
    if (reason[x.from].empty() && reason[x.to].empty()) return false;
    r.dropped_edges.push_back({e, "an end has no room for a level", false});
    return true;
  });
  std::sort(r.dropped_edges.begin(), r.dropped_edges.end(),
            [](const DroppedEdge& a, const DroppedEdge& b) { return a.edge < b.edge; });
}

}  // namespace smplock::infer::detail
