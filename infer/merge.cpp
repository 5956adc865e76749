// Joining traces: several runs of a program (and the processes of one run) each see some of its
// paths; the union of their orders is what the program does. Classes meet by their key, which is
// the same in every run of the same binary; ids and indices are per file and mean nothing here.
#include <algorithm>
#include <map>
#include <set>

#include "smplock/infer.hpp"

namespace smplock::infer {
namespace {

constexpr std::size_t kKeptSites = 8;

void add_sites(std::vector<SiteCount>& into, const std::vector<SiteCount>& from) {
  for (const SiteCount& s : from) {
    auto it = std::find_if(into.begin(), into.end(), [&](const SiteCount& t) { return t.frame == s.frame; });
    if (it == into.end()) into.push_back(s);
    else it->count += s.count;
  }
}

template <typename T>
std::vector<T> united(const std::vector<T>& a, const std::vector<T>& b) {
  std::set<T> s(a.begin(), a.end());
  s.insert(b.begin(), b.end());
  return {s.begin(), s.end()};
}

}  // namespace

double Graph::cpu_ns() const {
  double ns = 0;
  for (const Source& s : sources) ns += static_cast<double>(s.wall_ns) * static_cast<double>(s.cpus);
  return ns;
}

std::optional<std::size_t> Graph::find(std::string_view key) const {
  for (std::size_t i = 0; i < classes.size(); ++i)
    if (classes[i].key == key) return i;
  return std::nullopt;
}

Graph merge(const std::vector<Graph>& graphs) {
  Graph out;
  std::map<std::string, std::size_t> by_key;
  std::map<std::pair<std::size_t, std::size_t>, std::size_t> by_pair;
  std::map<std::size_t, std::size_t> nest_of;

  const auto add_nest = [&](const NestInfo& n, std::size_t cls) {
    auto [it, fresh] = nest_of.emplace(cls, out.nesting.size());
    if (fresh) {
      out.nesting.push_back(n);
      out.nesting.back().cls = cls;
      return;
    }
    NestInfo& m = out.nesting[it->second];
    m.count += n.count;
    m.address_order += n.address_order;
    m.threads = united(m.threads, n.threads);
    if (m.stack.empty()) m.stack = n.stack;
  };

  for (const Graph& g : graphs) {
    out.sources.insert(out.sources.end(), g.sources.begin(), g.sources.end());
    std::vector<std::size_t> map(g.classes.size());
    for (std::size_t i = 0; i < g.classes.size(); ++i) {
      const ClassInfo& c = g.classes[i];
      auto [it, fresh] = by_key.emplace(c.key, out.classes.size());
      map[i] = it->second;
      if (fresh) {
        out.classes.push_back(c);
        continue;
      }
      ClassInfo& m = out.classes[it->second];
      m.instances += c.instances;
      m.acquisitions += c.acquisitions;
      m.contended += c.contended;
      m.wait_ns += c.wait_ns;
      m.max_wait_ns = std::max(m.max_wait_ns, c.max_wait_ns);
      m.hold_ns += c.hold_ns;
      m.hold_samples += c.hold_samples;
      add_sites(m.contended_sites, c.contended_sites);
      if (m.site.function.empty() && m.site.file.empty()) m.site = c.site;
    }

    for (const EdgeInfo& e : g.edges) {
      const std::size_t from = map[e.from], to = map[e.to];
      std::vector<std::size_t> guards;
      for (std::size_t k : e.guards) guards.push_back(map[k]);
      std::sort(guards.begin(), guards.end());
      guards.erase(std::unique(guards.begin(), guards.end()), guards.end());
      if (from == to) {  // two instances of one class (by key): nesting, order unknown
        NestInfo n;
        n.count = e.count;
        n.address_order = e.count;
        n.threads = e.threads;
        n.stack = e.to_stack;
        add_nest(n, from);
        continue;
      }
      auto [it, fresh] = by_pair.emplace(std::make_pair(from, to), out.edges.size());
      if (fresh) {
        out.edges.push_back(e);
        EdgeInfo& m = out.edges.back();
        m.from = from;
        m.to = to;
        m.guards = guards;
        continue;
      }
      EdgeInfo& m = out.edges[it->second];
      m.count += e.count;
      m.blocking += e.blocking;
      m.read_read += e.read_read;
      const std::size_t listed = united(m.threads, e.threads).size();
      // Fully listed on both sides: the union is exact. Otherwise processes' threads are distinct,
      // so the counts add (a lower bound when some were not listed).
      if (!m.more_threads && !e.more_threads) {
        m.thread_count = listed;
      } else {
        m.thread_count = std::max<std::uint64_t>(listed, m.thread_count + e.thread_count);
        m.more_threads = true;
      }
      m.threads = united(m.threads, e.threads);
      std::vector<std::size_t> both;
      std::set_intersection(m.guards.begin(), m.guards.end(), guards.begin(), guards.end(), std::back_inserter(both));
      m.guards = both;
      if (m.from_stack.empty()) m.from_stack = e.from_stack;
      if (m.to_stack.empty()) m.to_stack = e.to_stack;
    }
    for (const NestInfo& n : g.nesting) add_nest(n, map[n.cls]);
  }

  for (ClassInfo& c : out.classes) {
    std::stable_sort(c.contended_sites.begin(), c.contended_sites.end(),
                     [](const SiteCount& a, const SiteCount& b) { return a.count > b.count; });
    if (c.contended_sites.size() > kKeptSites) c.contended_sites.resize(kKeptSites);
  }
  return out;
}

}  // namespace smplock::infer
