// The seed's two judgements, on the merged counts:
//   - split candidates: a class whose waiting costs more than the budget (1%) of the CPU time the
//     traced processes had (wait time / (wall time x CPUs), summed over the traces);
//   - one lock too many: a class nearly always (90% of its acquisitions, with enough of them) taken
//     directly inside the same other class, which already serialises everything it does.
// A trace records an edge from every held class, not only the innermost, so "directly inside" is
// read from the graph: among the classes held that often, the one taken inside the others.
#include <algorithm>

#include "internal.hpp"

namespace smplock::infer::detail {

void judge(const Graph& g, const Options& options, Result& r) {
  const double cpu = g.cpu_ns();
  r.contention.assign(g.classes.size(), 0.0);
  for (std::size_t k = 0; k < g.classes.size(); ++k) {
    r.contention[k] = cpu > 0 ? 100.0 * static_cast<double>(g.classes[k].wait_ns) / cpu : 0.0;
    if (r.contention[k] > options.budget_percent) r.split.push_back({k, r.contention[k]});
  }
  std::stable_sort(r.split.begin(), r.split.end(), [](const Split& a, const Split& b) { return a.percent > b.percent; });

  std::vector<std::vector<std::size_t>> into(g.classes.size());  // edges into each class
  for (std::size_t e = 0; e < g.edges.size(); ++e) into[g.edges[e].to].push_back(e);
  const auto edge = [&](std::size_t from, std::size_t to) {
    return std::any_of(into[to].begin(), into[to].end(), [&](std::size_t e) { return g.edges[e].from == from; });
  };
  for (std::size_t k = 0; k < g.classes.size(); ++k) {
    const ClassInfo& c = g.classes[k];
    if (c.acquisitions < options.min_nest_samples || c.acquisitions == 0) continue;
    std::vector<std::size_t> often;
    for (std::size_t e : into[k])
      if (static_cast<double>(g.edges[e].count) >= options.nested_share * static_cast<double>(c.acquisitions))
        often.push_back(g.edges[e].from);
    if (often.empty()) continue;
    // The innermost: taken inside the most of the others.
    std::size_t best = often.front(), best_inside = 0;
    for (std::size_t p : often) {
      std::size_t inside = 0;
      for (std::size_t q : often) inside += q != p && edge(q, p) ? 1 : 0;
      if (inside > best_inside) best = p, best_inside = inside;
    }
    std::uint64_t count = 0;
    for (std::size_t e : into[k])
      if (g.edges[e].from == best) count = g.edges[e].count;
    r.too_many.push_back({k, best, std::min(1.0, static_cast<double>(count) / static_cast<double>(c.acquisitions))});
  }
}

}  // namespace smplock::infer::detail
