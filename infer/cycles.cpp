// Potential deadlocks: the strongly connected components of the class graph (Tarjan's algorithm,
// without recursion so a long chain of classes cannot overflow the stack), then every elementary
// cycle inside each component, each judged on its own:
//   - one thread: every edge was seen on the same single thread and no other (in each process
//     that took it: merged runs are separate processes); nothing else ran that code at the same
//     time, so as observed it cannot wait for itself (another thread running the same code could:
//     the text says so);
//   - a common guard: one class was held across every edge, so the orders never ran at once
//     (as long as it is the same instance; the guard's instance count is shown);
//   - a trylock: an edge that was only ever taken by a trylock never waits, so the cycle cannot
//     close;
//   - read-read: every edge took a read lock under a read lock; readers do not wait for readers.
// Anything else can deadlock.
#include <algorithm>
#include <map>
#include <set>

#include "internal.hpp"

namespace smplock::infer::detail {
namespace {

constexpr std::size_t kMaxSteps = 2'000'000;  // search steps per component before giving up

struct Adjacent {
  std::size_t to;
  std::size_t edge;
};

std::vector<std::vector<std::size_t>> components(std::size_t n, const std::vector<std::vector<Adjacent>>& adj) {
  std::vector<std::vector<std::size_t>> out;
  constexpr std::size_t kNone = static_cast<std::size_t>(-1);
  std::vector<std::size_t> index(n, kNone), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<std::size_t> stack;
  std::size_t next = 0;
  struct Frame {
    std::size_t v;
    std::size_t child;
  };
  for (std::size_t root = 0; root < n; ++root) {
    if (index[root] != kNone) continue;
    std::vector<Frame> calls{{root, 0}};
    index[root] = low[root] = next++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!calls.empty()) {
      Frame& f = calls.back();
      if (f.child < adj[f.v].size()) {
        const std::size_t w = adj[f.v][f.child++].to;
        if (index[w] == kNone) {
          index[w] = low[w] = next++;
          stack.push_back(w);
          on_stack[w] = true;
          calls.push_back({w, 0});
        } else if (on_stack[w]) {
          low[f.v] = std::min(low[f.v], index[w]);
        }
        continue;
      }
      const std::size_t v = f.v;
      calls.pop_back();
      if (!calls.empty()) low[calls.back().v] = std::min(low[calls.back().v], low[v]);
      if (low[v] != index[v]) continue;
      std::vector<std::size_t> scc;
      std::size_t w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        scc.push_back(w);
      } while (w != v);
      if (scc.size() > 1) {
        std::sort(scc.begin(), scc.end());
        out.push_back(std::move(scc));
      }
    }
  }
  return out;
}

void judge_cycle(const Graph& g, Cycle& c) {
  // One thread: in every process that took any edge of the cycle, one thread took every edge (so
  // two runs of a one-thread ABBA, merged, are still one thread per run; but a -> b seen in one run
  // and b -> a in another is a cycle no single run showed, and can deadlock).
  std::map<std::int64_t, Thread> per_process;
  bool one = true;
  for (std::size_t e : c.edges) {
    const EdgeInfo& x = g.edges[e];
    if (x.more_threads || x.threads.empty() || x.thread_count != x.threads.size()) one = false;
    for (const Thread& t : x.threads) {
      auto [it, fresh] = per_process.emplace(t.pid, t);
      if (!fresh && it->second != t) one = false;
    }
  }
  for (std::size_t e : c.edges)
    for (const auto& [pid, t] : per_process)
      if (!std::binary_search(g.edges[e].threads.begin(), g.edges[e].threads.end(), t)) one = false;
  if (one && !per_process.empty()) {
    c.one_thread = per_process.begin()->second;
    c.one_thread_processes = per_process.size();
  }

  std::vector<std::size_t> guards = g.edges[c.edges.front()].guards;
  for (std::size_t e : c.edges) {
    std::vector<std::size_t> both;
    std::set_intersection(guards.begin(), guards.end(), g.edges[e].guards.begin(), g.edges[e].guards.end(),
                          std::back_inserter(both));
    guards = std::move(both);
  }
  c.common_guards = std::move(guards);

  c.read_read = true;
  for (std::size_t e : c.edges) {
    if (g.edges[e].trylock_only()) c.trylock_edges.push_back(e);
    if (!g.edges[e].read_read_only()) c.read_read = false;
  }
}

}  // namespace

void find_cycles(const Graph& g, const Options& options, Result& r) {
  const std::size_t n = g.classes.size();
  std::vector<std::vector<Adjacent>> adj(n);
  for (std::size_t e = 0; e < g.edges.size(); ++e) adj[g.edges[e].from].push_back({g.edges[e].to, e});
  for (auto& a : adj)
    std::sort(a.begin(), a.end(), [](const Adjacent& x, const Adjacent& y) { return x.to < y.to; });

  for (std::vector<std::size_t>& members : components(n, adj)) {
    Component comp;
    comp.classes = std::move(members);
    const std::size_t ci = r.components.size();
    std::vector<int> rank(n, -1);  // position in the component, -1 outside it
    for (std::size_t i = 0; i < comp.classes.size(); ++i) rank[comp.classes[i]] = static_cast<int>(i);

    // Every elementary cycle once: from each start, only through classes ranked above it.
    std::size_t steps = 0, found = 0;
    for (std::size_t si = 0; si < comp.classes.size() && !comp.truncated; ++si) {
      const std::size_t start = comp.classes[si];
      std::vector<std::size_t> path{start}, path_edges;
      std::vector<std::size_t> next{0};
      std::vector<bool> on_path(n, false);
      on_path[start] = true;
      while (!path.empty()) {
        if (++steps > kMaxSteps || found >= options.max_cycles) {
          comp.truncated = true;
          break;
        }
        const std::size_t v = path.back();
        if (next.back() >= adj[v].size()) {
          on_path[v] = false;
          path.pop_back();
          next.pop_back();
          if (!path_edges.empty()) path_edges.pop_back();
          continue;
        }
        const Adjacent a = adj[v][next.back()++];
        if (rank[a.to] < static_cast<int>(si)) continue;
        if (a.to == start) {
          Cycle c;
          c.component = ci;
          c.classes = path;
          c.edges = path_edges;
          c.edges.push_back(a.edge);
          judge_cycle(g, c);
          comp.cycles.push_back(r.cycles.size());
          r.cycles.push_back(std::move(c));
          ++found;
          continue;
        }
        if (on_path[a.to]) continue;
        on_path[a.to] = true;
        path.push_back(a.to);
        path_edges.push_back(a.edge);
        next.push_back(0);
      }
    }
    comp.real = comp.truncated;
    for (std::size_t c : comp.cycles) comp.real = comp.real || r.cycles[c].real();
    r.components.push_back(std::move(comp));
  }

  for (std::size_t i = 0; i < g.nesting.size(); ++i)
    if (g.nesting[i].count != 0 && !g.nesting[i].in_address_order()) r.bad_nesting.push_back(i);
}

}  // namespace smplock::infer::detail
