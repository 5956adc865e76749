// The two JSON forms. to_json(): everything the analysis found (schema "smplock-infer", version 1),
// for scripts and for a person who wants the stacks the text leaves out. to_table(): the level table
// `smplock enforce --levels` reads (schema "smplock-levels", version 1, /work/notes/trace-schema.md
// and docs/levels-infer.md), indented one class per block so a person can edit it.
#include <nlohmann/json.hpp>

#include "internal.hpp"

namespace smplock::infer {
namespace {

using nlohmann::ordered_json;

ordered_json frame_json(const Frame& f) {
  ordered_json j = ordered_json::object();
  j["function"] = f.function;
  if (!f.file.empty()) j["file"] = f.file;
  if (f.line != 0) j["line"] = f.line;
  if (!f.object.empty()) j["object"] = f.object;
  if (!f.pc.empty()) j["pc"] = f.pc;
  return j;
}

ordered_json stack_json(const Stack& s) {
  ordered_json j = ordered_json::array();
  for (const Frame& f : s) j.push_back(frame_json(f));
  return j;
}

ordered_json threads_json(const std::vector<Thread>& threads) {
  ordered_json j = ordered_json::array();
  for (const Thread& t : threads) j.push_back({{"pid", t.pid}, {"tid", t.tid}});
  return j;
}

ordered_json keys(const Graph& g, const std::vector<std::size_t>& classes) {
  ordered_json j = ordered_json::array();
  for (std::size_t k : classes) j.push_back(g.classes[k].key);
  return j;
}

}  // namespace

std::string to_json(const Graph& g, const Result& r) {
  ordered_json top = ordered_json::object();
  top["schema"] = "smplock-infer";
  top["version"] = 1;
  ordered_json& sources = top["sources"] = ordered_json::array();
  for (const Source& s : g.sources)
    sources.push_back({{"path", s.path}, {"program", s.program}, {"argv", s.argv}, {"pid", s.pid}, {"ppid", s.ppid},
                       {"wall_ns", s.wall_ns}, {"cpus", s.cpus}, {"threads", s.threads}});
  top["cpu_ns"] = g.cpu_ns();

  ordered_json& classes = top["classes"] = ordered_json::array();
  for (std::size_t k = 0; k < g.classes.size(); ++k) {
    const ClassInfo& c = g.classes[k];
    ordered_json j = {{"index", k}, {"key", c.key}, {"name", c.name}, {"how", c.how}, {"kind", c.kind},
                      {"site", frame_json(c.site)}, {"instances", c.instances}, {"acquisitions", c.acquisitions},
                      {"contended", c.contended}, {"wait_ns", c.wait_ns}, {"max_wait_ns", c.max_wait_ns},
                      {"hold_ns", c.hold_ns}, {"hold_samples", c.hold_samples},
                      {"contention_percent", r.contention.at(k)}};
    if (const LevelEntry* l = r.level_of(k)) {
      j["level"] = l->level;
      j["layer"] = l->layer;
    } else if (const Unleveled* u = r.unleveled_of(k)) {
      j["unleveled"] = u->reason;
    }
    ordered_json sites = ordered_json::array();
    for (const SiteCount& s : c.contended_sites) sites.push_back({{"frame", frame_json(s.frame)}, {"count", s.count}});
    j["contended_sites"] = sites;
    classes.push_back(j);
  }

  std::vector<const DroppedEdge*> dropped(g.edges.size(), nullptr);
  for (const DroppedEdge& d : r.dropped_edges) dropped[d.edge] = &d;
  ordered_json& edges = top["edges"] = ordered_json::array();
  for (std::size_t e = 0; e < g.edges.size(); ++e) {
    const EdgeInfo& x = g.edges[e];
    ordered_json j = {{"index", e},
                      {"from", g.classes[x.from].key},
                      {"to", g.classes[x.to].key},
                      {"count", x.count},
                      {"blocking", x.blocking},
                      {"read_read", x.read_read},
                      {"thread_count", x.thread_count},
                      {"more_threads", x.more_threads},
                      {"threads", threads_json(x.threads)},
                      {"guards", keys(g, x.guards)},
                      {"kept", dropped[e] == nullptr}};
    if (dropped[e] != nullptr) {
      j["dropped"] = dropped[e]->reason;
      j["exempt"] = dropped[e]->exempt;
    }
    j["from_stack"] = stack_json(x.from_stack);
    j["to_stack"] = stack_json(x.to_stack);
    edges.push_back(j);
  }

  ordered_json& nesting = top["nesting"] = ordered_json::array();
  for (const NestInfo& n : g.nesting)
    nesting.push_back({{"class", g.classes[n.cls].key}, {"count", n.count}, {"address_order", n.address_order},
                       {"in_address_order", n.in_address_order()}, {"threads", threads_json(n.threads)},
                       {"stack", stack_json(n.stack)}});

  ordered_json& components = top["components"] = ordered_json::array();
  for (const Component& c : r.components) {
    ordered_json cycles = ordered_json::array();
    for (std::size_t i : c.cycles) cycles.push_back(i + 1);
    components.push_back({{"classes", keys(g, c.classes)}, {"cycles", cycles}, {"truncated", c.truncated},
                          {"can_deadlock", c.real}});
  }
  ordered_json& cycles = top["cycles"] = ordered_json::array();
  for (std::size_t i = 0; i < r.cycles.size(); ++i) {
    const Cycle& c = r.cycles[i];
    ordered_json edge_ids = ordered_json::array();
    for (std::size_t e : c.edges) edge_ids.push_back(e);
    ordered_json tries = ordered_json::array();
    for (std::size_t e : c.trylock_edges) tries.push_back(e);
    ordered_json j = {{"number", i + 1},
                      {"component", c.component + 1},
                      {"classes", keys(g, c.classes)},
                      {"path", detail::cycle_path(g, c)},
                      {"edges", edge_ids},
                      {"can_deadlock", c.real()},
                      {"verdict", detail::cycle_verdict(g, c)},
                      {"one_thread", c.one_thread ? ordered_json{{"pid", c.one_thread->pid}, {"tid", c.one_thread->tid}}
                                                  : ordered_json(nullptr)},
                      {"one_thread_processes", c.one_thread_processes},
                      {"common_guards", keys(g, c.common_guards)},
                      {"trylock_edges", tries},
                      {"read_read", c.read_read},
                      {"needs_choice", c.needs_choice()}};
    cycles.push_back(j);
  }
  ordered_json bad = ordered_json::array();
  for (std::size_t n : r.bad_nesting) bad.push_back(g.classes[g.nesting[n].cls].key);
  top["nesting_out_of_address_order"] = bad;

  top["layers"] = r.layers;
  top["step"] = r.step;
  top["table"] = ordered_json::parse(to_table(g, r));

  ordered_json& split = top["split"] = ordered_json::array();
  for (const Split& s : r.split) split.push_back({{"class", g.classes[s.cls].key}, {"contention_percent", s.percent}});
  ordered_json& many = top["too_many"] = ordered_json::array();
  for (const TooMany& t : r.too_many)
    many.push_back({{"class", g.classes[t.cls].key}, {"inside", g.classes[t.parent].key}, {"share", t.share}});
  return top.dump(2) + "\n";
}

std::string to_table(const Graph& g, const Result& r) {
  ordered_json top = ordered_json::object();
  top["schema"] = kTableSchema;
  top["version"] = kTableVersion;
  ordered_json& classes = top["classes"] = ordered_json::array();
  for (const LevelEntry& l : r.levels) {
    const ClassInfo& c = g.classes[l.cls];
    classes.push_back({{"key", c.key},
                       {"name", c.name},
                       {"level", l.level},
                       {"site", frame_json(c.site)},
                       {"kind", c.kind},
                       {"same_class_nesting", l.same_class_nesting},
                       {"aliases", ordered_json::array()}});
  }
  ordered_json& unleveled = top["unleveled"] = ordered_json::array();
  for (const Unleveled& u : r.unleveled)
    unleveled.push_back({{"key", g.classes[u.cls].key}, {"name", g.classes[u.cls].name}, {"reason", u.reason}});
  // Optional, for an enforcer that wants it: the observed orders that go against the levels but
  // cannot wait (a trylock, a read lock under a read lock).
  ordered_json exempt = ordered_json::array();
  for (const DroppedEdge& d : r.dropped_edges)
    if (d.exempt)
      exempt.push_back({{"from", g.classes[g.edges[d.edge].from].key}, {"to", g.classes[g.edges[d.edge].to].key},
                        {"reason", d.reason}});
  top["exempt"] = exempt;
  return top.dump(2) + "\n";
}

}  // namespace smplock::infer
