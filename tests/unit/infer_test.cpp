// `levels --infer`'s analysis on small hand-written traces, one planted pattern each: the cycles
// found and their verdicts, the proposed table (checked against every kept edge in every test:
// level(from) < level(to)), merging, the judgements, identifiers for the header, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "infer_trace_builder.hpp"
#include "smplock/infer.hpp"

namespace smplock::infer {
namespace {

using testing::TraceBuilder;
using E = TraceBuilder::Edge;

struct Inferred {
  Graph g;
  Result r;

  std::size_t cls(const std::string& name) const {
    const auto k = g.find("symbol:prog:" + name);
    EXPECT_TRUE(k.has_value()) << name;
    return k.value_or(0);
  }
  int level(const std::string& name) const {
    const LevelEntry* l = r.level_of(cls(name));
    return l != nullptr ? l->level : -1;
  }
  bool leveled(const std::string& name) const { return r.level_of(cls(name)) != nullptr; }
  std::string why(const std::string& name) const {
    const Unleveled* u = r.unleveled_of(cls(name));
    return u != nullptr ? u->reason : "";
  }
  std::size_t real_cycles() const {
    return static_cast<std::size_t>(std::count_if(r.cycles.begin(), r.cycles.end(), [](const Cycle& c) { return c.real(); }));
  }
  const EdgeInfo* edge(const std::string& from, const std::string& to) const {
    for (const EdgeInfo& e : g.edges)
      if (e.from == cls(from) && e.to == cls(to)) return &e;
    return nullptr;
  }
  bool exempt(const std::string& from, const std::string& to) const {
    for (const DroppedEdge& d : r.dropped_edges)
      if (g.edges[d.edge].from == cls(from) && g.edges[d.edge].to == cls(to)) return d.exempt;
    return false;
  }
};

// The table's invariants, whatever the traces: every class leveled or listed (not both), levels
// in the user range, every kept edge going up the levels, every edge kept or dropped once.
void check_table(const Graph& g, const Result& r) {
  for (std::size_t k = 0; k < g.classes.size(); ++k)
    EXPECT_NE(r.level_of(k) != nullptr, r.unleveled_of(k) != nullptr) << g.classes[k].name;
  for (const LevelEntry& l : r.levels) {
    EXPECT_GE(l.level, 0x10);
    EXPECT_LE(l.level, 0xDF);
  }
  std::vector<int> seen(g.edges.size(), 0);
  for (std::size_t e : r.kept_edges) {
    ++seen[e];
    const LevelEntry* from = r.level_of(g.edges[e].from);
    const LevelEntry* to = r.level_of(g.edges[e].to);
    ASSERT_TRUE(from != nullptr && to != nullptr);
    EXPECT_LT(from->level, to->level) << g.classes[g.edges[e].from].name << " -> " << g.classes[g.edges[e].to].name;
  }
  for (const DroppedEdge& d : r.dropped_edges) {
    ++seen[d.edge];
    if (d.exempt) {
      EXPECT_TRUE(r.level_of(g.edges[d.edge].from) != nullptr && r.level_of(g.edges[d.edge].to) != nullptr);
      EXPECT_TRUE(g.edges[d.edge].trylock_only() || g.edges[d.edge].read_read_only());
    }
  }
  for (std::size_t e = 0; e < g.edges.size(); ++e) EXPECT_EQ(seen[e], 1) << "edge " << e;
}

Inferred infer(const std::vector<TraceBuilder>& traces) {
  std::vector<Graph> graphs;
  for (std::size_t i = 0; i < traces.size(); ++i) graphs.push_back(read_trace(traces[i].text(), "t" + std::to_string(i)));
  Inferred out{merge(graphs), {}};
  out.r = analyze(out.g);
  check_table(out.g, out.r);
  return out;
}
Inferred infer(const TraceBuilder& t) { return infer(std::vector<TraceBuilder>{t}); }

TEST(Infer, ChainIsLayeredByLongestPathEightApart) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b"), c = t.cls("c"), d = t.cls("d");
  t.edge({a, b}).edge({b, c}).edge({a, c}).edge({d, c});
  const Inferred x = infer(t);
  EXPECT_TRUE(x.r.cycles.empty());
  EXPECT_EQ(x.r.layers, 3u);
  EXPECT_EQ(x.level("a"), 0x10);
  EXPECT_EQ(x.level("d"), 0x10);
  EXPECT_EQ(x.level("b"), 0x18);
  EXPECT_EQ(x.level("c"), 0x20);
  EXPECT_EQ(x.r.kept_edges.size(), 4u);
}

TEST(Infer, AbbaOnTwoThreadsCanDeadlock) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b"), c = t.cls("c");
  t.edge({a, b, 10, {1}}).edge({b, a, 3, {2}}).edge({c, a});
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.cycles.size(), 1u);
  EXPECT_TRUE(x.r.cycles[0].real());
  ASSERT_EQ(x.r.components.size(), 1u);
  EXPECT_TRUE(x.r.components[0].real);
  EXPECT_FALSE(x.leveled("a"));
  EXPECT_FALSE(x.leveled("b"));
  EXPECT_EQ(x.why("a"), "cycle 1: can deadlock");
  EXPECT_EQ(x.level("c"), 0x10);  // c -> a is dropped with a: c stands alone
}

TEST(Infer, AbbaOnOneThreadCannotDeadlockAsObservedButWaitsForAChoice) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b");
  t.edge({a, b, 10, {7}}).edge({b, a, 3, {7}});
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.cycles.size(), 1u);
  const Cycle& c = x.r.cycles[0];
  EXPECT_FALSE(c.real());
  ASSERT_TRUE(c.one_thread.has_value());
  EXPECT_EQ(c.one_thread->tid, 7);
  EXPECT_TRUE(c.needs_choice());
  EXPECT_NE(x.why("a").find("thread 7 only"), std::string::npos) << x.why("a");
  EXPECT_NE(x.why("a").find("choose one order"), std::string::npos);
}

TEST(Infer, OneThreadPerEdgeButDifferentThreadsIsReal) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b");
  t.edge({a, b, 10, {7}}).edge({b, a, 3, {8}});
  EXPECT_EQ(infer(t).real_cycles(), 1u);
}

TEST(Infer, SameThreadIdInTwoProcessesIsTwoThreads) {
  TraceBuilder one(100), two(200);
  one.cls("a"), one.cls("b"), two.cls("a"), two.cls("b");
  one.edge({0, 1, 5, {7}});
  two.edge({1, 0, 5, {7}});
  const Inferred x = infer({one, two});
  ASSERT_EQ(x.r.cycles.size(), 1u);
  EXPECT_TRUE(x.r.cycles[0].real());
}

TEST(Infer, TwoRunsOfAOneThreadAbbaMergedAreStillOneThreadEach) {
  TraceBuilder one(100), two(200);
  for (TraceBuilder* t : {&one, &two}) {
    t->cls("a"), t->cls("b");
    t->edge({0, 1, 5, {7}}).edge({1, 0, 5, {7}});
  }
  const Inferred x = infer({one, two});
  ASSERT_EQ(x.r.cycles.size(), 1u);
  EXPECT_FALSE(x.r.cycles[0].real());
  EXPECT_EQ(x.r.cycles[0].one_thread_processes, 2u);
  EXPECT_NE(x.why("a").find("in each of 2 processes"), std::string::npos) << x.why("a");
}

TEST(Infer, OneThreadInOneRunButTwoInAnotherIsReal) {
  TraceBuilder one(100), two(200);
  for (TraceBuilder* t : {&one, &two}) t->cls("a"), t->cls("b");
  one.edge({0, 1, 5, {7}}).edge({1, 0, 5, {7}});
  two.edge({0, 1, 5, {8}}).edge({1, 0, 5, {9}});
  EXPECT_EQ(infer({one, two}).real_cycles(), 1u);
}

TEST(Infer, ThreeAndFourClassCycles) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b"), c = t.cls("c");
  const int p = t.cls("p"), q = t.cls("q"), r = t.cls("r"), s = t.cls("s");
  t.edge({a, b}).edge({b, c}).edge({c, a});
  t.edge({p, q}).edge({q, r}).edge({r, s}).edge({s, p});
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.cycles.size(), 2u);
  ASSERT_EQ(x.r.components.size(), 2u);
  std::vector<std::size_t> sizes{x.r.cycles[0].classes.size(), x.r.cycles[1].classes.size()};
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{3, 4}));
  EXPECT_EQ(x.real_cycles(), 2u);
  EXPECT_TRUE(x.r.levels.empty());
  for (const Cycle& c : x.r.cycles)
    for (std::size_t i = 0; i < c.edges.size(); ++i) {  // each edge joins its cycle's classes in order
      EXPECT_EQ(x.g.edges[c.edges[i]].from, c.classes[i]);
      EXPECT_EQ(x.g.edges[c.edges[i]].to, c.classes[(i + 1) % c.classes.size()]);
    }
}

TEST(Infer, EveryElementaryCycleOfAComponentIsListedOnce) {
  // a <-> b, b <-> c, a -> c -> a: cycles ab, bc, ac, abc, acb.
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b"), c = t.cls("c");
  t.edge({a, b}).edge({b, a}).edge({b, c}).edge({c, b}).edge({a, c}).edge({c, a});
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.components.size(), 1u);
  EXPECT_EQ(x.r.cycles.size(), 5u);
}

TEST(Infer, CycleGatedByACommonLockCannotDeadlock) {
  TraceBuilder t;
  const int g = t.cls("gate"), a = t.cls("a"), b = t.cls("b");
  t.edge({g, a}).edge({g, b}).edge({a, b, 10, {1, 2}, -1, 0, {g}}).edge({b, a, 4, {1, 3}, -1, 0, {g}});
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.cycles.size(), 1u);
  const Cycle& c = x.r.cycles[0];
  EXPECT_FALSE(c.real());
  ASSERT_EQ(c.common_guards.size(), 1u);
  EXPECT_EQ(c.common_guards[0], x.cls("gate"));
  EXPECT_EQ(x.level("gate"), 0x10);
  EXPECT_NE(x.why("a").find("guarded by gate"), std::string::npos) << x.why("a");
}

TEST(Infer, GuardOnOnlyOneOrderDoesNotGate) {
  TraceBuilder t;
  const int g = t.cls("gate"), a = t.cls("a"), b = t.cls("b");
  t.edge({a, b, 10, {1, 2}, -1, 0, {g}}).edge({b, a, 4, {1, 3}});
  EXPECT_EQ(infer(t).real_cycles(), 1u);
}

TEST(Infer, ReverseTrylockCannotDeadlockAndIsExempt) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b");
  t.edge({a, b, 50}).edge({b, a, 5, {1, 2}, /*blocking=*/0});
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.cycles.size(), 1u);
  EXPECT_FALSE(x.r.cycles[0].real());
  EXPECT_FALSE(x.r.cycles[0].needs_choice());
  EXPECT_EQ(x.r.cycles[0].trylock_edges.size(), 1u);
  EXPECT_LT(x.level("a"), x.level("b"));  // the blocking order is the one kept
  EXPECT_TRUE(x.exempt("b", "a"));
}

TEST(Infer, TrylockSometimesBlockingIsNotATrylockEdge) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b");
  t.edge({a, b, 50}).edge({b, a, 5, {1, 2}, /*blocking=*/1});
  EXPECT_EQ(infer(t).real_cycles(), 1u);
}

TEST(Infer, RwlockReadReadCycleCannotDeadlockReadWriteCan) {
  TraceBuilder rr;
  int a = rr.cls("a", "rwlock"), b = rr.cls("b", "rwlock");
  rr.edge({a, b, 40, {1, 2}, -1, 40}).edge({b, a, 9, {1, 3}, -1, 9});
  const Inferred x = infer(rr);
  ASSERT_EQ(x.r.cycles.size(), 1u);
  EXPECT_TRUE(x.r.cycles[0].read_read);
  EXPECT_FALSE(x.r.cycles[0].real());
  EXPECT_LT(x.level("a"), x.level("b"));  // the more frequent order kept, the other exempt
  EXPECT_TRUE(x.exempt("b", "a"));

  TraceBuilder rw;
  a = rw.cls("a", "rwlock"), b = rw.cls("b", "rwlock");
  rw.edge({a, b, 40, {1, 2}, -1, 40}).edge({b, a, 9, {1, 3}, -1, 8});  // one write among the reverse
  const Inferred y = infer(rw);
  ASSERT_EQ(y.r.cycles.size(), 1u);
  EXPECT_FALSE(y.r.cycles[0].read_read);
  EXPECT_TRUE(y.r.cycles[0].real());
}

TEST(Infer, ReadReadEdgeOutsideACycleIsKept) {
  TraceBuilder t;
  const int a = t.cls("a", "rwlock"), b = t.cls("b", "rwlock");
  t.edge({a, b, 40, {1, 2}, -1, 40});
  const Inferred x = infer(t);
  EXPECT_EQ(x.r.kept_edges.size(), 1u);
  EXPECT_LT(x.level("a"), x.level("b"));
}

TEST(Infer, SameClassNestingInAddressOrderIsAllowed) {
  TraceBuilder t;
  const int acct = t.cls("account"), bank = t.cls("bank");
  t.edge({bank, acct}).nest(acct, 99, 99);
  const Inferred x = infer(t);
  EXPECT_TRUE(x.r.cycles.empty());
  EXPECT_TRUE(x.r.bad_nesting.empty());
  const LevelEntry* l = x.r.level_of(x.cls("account"));
  ASSERT_NE(l, nullptr);
  EXPECT_TRUE(l->same_class_nesting);
  EXPECT_FALSE(x.r.level_of(x.cls("bank"))->same_class_nesting);
  const nlohmann::json table = nlohmann::json::parse(to_table(x.g, x.r));
  bool flagged = false;
  for (const auto& c : table["classes"])
    if (c["name"] == "account") flagged = c["same_class_nesting"].get<bool>();
  EXPECT_TRUE(flagged);
}

TEST(Infer, SameClassNestingOutOfAddressOrderIsAPotentialDeadlock) {
  TraceBuilder t;
  const int acct = t.cls("account");
  t.nest(acct, 99, 97);
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.bad_nesting.size(), 1u);
  std::string text;
  write_text(x.g, x.r, [&](std::string_view s) { text += s; });
  EXPECT_NE(text.find("out of address order"), std::string::npos) << text;
}

TEST(Infer, ASelfEdgeIsSameClassNestingWithItsAddressOrder) {
  TraceBuilder t;
  const int acct = t.cls("account");
  t.edge({acct, acct, 10});
  t.j["edges"][0]["address_order"] = 7;
  const Inferred x = infer(t);
  EXPECT_TRUE(x.g.edges.empty());
  EXPECT_TRUE(x.r.cycles.empty());
  ASSERT_EQ(x.g.nesting.size(), 1u);
  EXPECT_EQ(x.g.nesting[0].address_order, 7u);
  EXPECT_EQ(x.r.bad_nesting.size(), 1u);
  EXPECT_TRUE(x.r.level_of(x.cls("account"))->same_class_nesting);
}

TEST(Infer, MergingTwoAcyclicTracesFindsTheCycleOfTheirUnion) {
  TraceBuilder one(100), two(200);
  // Ids differ between the files; keys join them.
  one.cls("a", "mutex", 10, 0, 5), one.cls("b", "mutex", 10, 0, 9);
  two.cls("b", "mutex", 10, 0, 0), two.cls("a", "mutex", 10, 0, 1);
  one.edge({5, 9, 7, {11}});
  two.edge({0, 1, 3, {21}});  // b -> a
  EXPECT_TRUE(infer(one).r.cycles.empty());
  EXPECT_TRUE(infer(two).r.cycles.empty());
  const Inferred x = infer({one, two});
  EXPECT_EQ(x.g.classes.size(), 2u);
  EXPECT_EQ(x.g.classes[x.cls("a")].acquisitions, 20u);
  ASSERT_EQ(x.r.cycles.size(), 1u);
  EXPECT_TRUE(x.r.cycles[0].real());
}

TEST(Infer, MergeSumsCountsUnitesThreadsIntersectsGuards) {
  TraceBuilder one(100), two(200);
  for (TraceBuilder* t : {&one, &two}) t->cls("g"), t->cls("h"), t->cls("a"), t->cls("b");
  one.edge({2, 3, 10, {1, 2}, 8, 1, {0, 1}});
  two.edge({2, 3, 5, {1}, 5, 0, {1}});
  const Inferred x = infer({one, two});
  const EdgeInfo* e = x.edge("a", "b");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->count, 15u);
  EXPECT_EQ(e->blocking, 13u);
  EXPECT_EQ(e->read_read, 1u);
  EXPECT_EQ(e->thread_count, 3u);  // 100/1, 100/2, 200/1
  EXPECT_EQ(e->threads.size(), 3u);
  EXPECT_EQ(e->guards, std::vector<std::size_t>{x.cls("h")});
  EXPECT_EQ(x.g.sources.size(), 2u);
}

TEST(Infer, SplitCandidatesAgainstTheOnePercentBudget) {
  TraceBuilder t(100, 1'000'000'000, 2);  // 2 s of CPU time
  t.cls("hot", "mutex", 1000, 30'000'000);  // 1.5%
  t.cls("cool", "mutex", 1000, 10'000'000); // 0.5%
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.split.size(), 1u);
  EXPECT_EQ(x.r.split[0].cls, x.cls("hot"));
  EXPECT_NEAR(x.r.split[0].percent, 1.5, 1e-9);
}

TEST(Infer, TooManyLocksNearlyAlwaysInsideTheSameClass) {
  TraceBuilder t;
  const int outer = t.cls("outer", "mutex", 500), mid = t.cls("mid", "mutex", 200), inner = t.cls("inner", "mutex", 100);
  const int rare = t.cls("rare", "mutex", 10), loose = t.cls("loose", "mutex", 100);
  t.edge({outer, mid, 200}).edge({outer, inner, 95}).edge({mid, inner, 95});  // inner: directly inside mid
  t.edge({outer, rare, 10});   // too few acquisitions to judge
  t.edge({outer, loose, 80});  // 80%: not "nearly always"
  const Inferred x = infer(t);
  ASSERT_EQ(x.r.too_many.size(), 2u);
  for (const TooMany& m : x.r.too_many) {
    if (m.cls == x.cls("inner")) {
      EXPECT_EQ(m.parent, x.cls("mid"));
      EXPECT_NEAR(m.share, 0.95, 1e-9);
    } else {
      EXPECT_EQ(m.cls, x.cls("mid"));
      EXPECT_EQ(m.parent, x.cls("outer"));
    }
  }
}

TEST(Infer, ManyLayersAreSqueezedIntoTheUserRange) {
  TraceBuilder t;
  for (int i = 0; i < 40; ++i) t.cls("c" + std::to_string(i));
  for (int i = 0; i + 1 < 40; ++i) t.edge({i, i + 1});
  const Inferred x = infer(t);
  EXPECT_EQ(x.r.layers, 40u);
  EXPECT_EQ(x.r.step, 5u);  // 207 / 39
  EXPECT_EQ(x.level("c0"), 0x10);
  EXPECT_EQ(x.level("c39"), 0x10 + 39 * 5);
}

TEST(Infer, IdentifiersAreValidAndDistinct) {
  TraceBuilder t;
  t.cls("global_lock"), t.cls("make_account+16"), t.cls("9lives"), t.cls("HTTP"), t.cls("class"), t.cls("x::y");
  t.cls("global-lock");
  const Graph g = read_trace(t.text(), "t");
  const std::vector<std::string> ids = identifiers(g);
  EXPECT_EQ(ids, (std::vector<std::string>{"GlobalLock", "MakeAccount16", "L9lives", "Http", "Class", "XY", "GlobalLock2"}));
}

TEST(Infer, HeaderHasOneConstantPerLeveledClassWithItsReason) {
  TraceBuilder t;
  const int a = t.cls("cache"), b = t.cls("log"), c = t.cls("x"), d = t.cls("y");
  t.edge({a, b}).edge({c, d, 5, {1}}).edge({d, c, 5, {2}});
  const Inferred x = infer(t);
  const std::string h = to_header(x.g, x.r);
  EXPECT_NE(h.find("inline constexpr smplock::Level Cache{0x10};"), std::string::npos) << h;
  EXPECT_NE(h.find("inline constexpr smplock::Level Log{0x18};"), std::string::npos) << h;
  EXPECT_NE(h.find("taken inside cache"), std::string::npos) << h;
  EXPECT_EQ(h.find("smplock::Level X{"), std::string::npos) << h;
  EXPECT_NE(h.find("//   x: cycle 1: can deadlock"), std::string::npos) << h;
}

TEST(Infer, JsonHoldsCyclesStacksAndTheTable) {
  TraceBuilder t;
  const int a = t.cls("a"), b = t.cls("b");
  t.edge({a, b, 10, {1}}).edge({b, a, 3, {2}});
  const Inferred x = infer(t);
  const nlohmann::json j = nlohmann::json::parse(to_json(x.g, x.r));
  EXPECT_EQ(j["schema"], "smplock-infer");
  ASSERT_EQ(j["cycles"].size(), 1u);
  EXPECT_TRUE(j["cycles"][0]["can_deadlock"].get<bool>());
  EXPECT_EQ(j["edges"][0]["from_stack"][0]["function"], "outer");
  EXPECT_EQ(j["table"]["schema"], kTableSchema);
  EXPECT_EQ(j["table"]["unleveled"].size(), 2u);
}

TEST(Infer, AnEmptyTraceGivesAnEmptyAnswerInEveryForm) {
  const Inferred x = infer(TraceBuilder{});
  EXPECT_TRUE(x.r.levels.empty() && x.r.unleveled.empty() && x.r.cycles.empty());
  std::string text;
  write_text(x.g, x.r, [&](std::string_view s) { text += s; });
  EXPECT_NE(text.find("Potential deadlocks: none"), std::string::npos) << text;
  EXPECT_NE(to_svg(x.g, x.r).find("</svg>"), std::string::npos);
  EXPECT_NE(to_header(x.g, x.r).find("namespace levels {"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(to_table(x.g, x.r))["classes"].size(), 0u);
  EXPECT_TRUE(nlohmann::json::accept(to_json(x.g, x.r)));
}

// --- bad input ----------------------------------------------------------------------------------

std::string error_of(const std::string& text) {
  try {
    read_trace(text, "bad.json");
  } catch (const TraceError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(InferInput, BadTracesSayWhatIsWrongAndWhere) {
  EXPECT_NE(error_of("{not json").find("bad.json: not JSON"), std::string::npos);
  EXPECT_NE(error_of("[1,2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"schema":"smplock-stats","version":1})").find("\"smplock-stats\", not \"smplock-trace\""),
            std::string::npos);
  EXPECT_NE(error_of(R"({"version":1})").find("schema: missing"), std::string::npos);
  TraceBuilder t;
  t.j["version"] = 2;
  EXPECT_NE(error_of(t.text()).find("version: 2 is not a version"), std::string::npos) << error_of(t.text());
  TraceBuilder u;
  u.cls("a");
  u.edge({0, 9});
  EXPECT_NE(error_of(u.text()).find("edges[0].to: class 9 does not exist"), std::string::npos) << error_of(u.text());
  TraceBuilder v;
  v.cls("a");
  v.j["classes"][0].erase("key");
  EXPECT_NE(error_of(v.text()).find("classes[0].key: missing"), std::string::npos);
  TraceBuilder w;
  w.cls("a"), w.cls("b");
  w.edge({0, 1, 5, {1}, 9});
  EXPECT_NE(error_of(w.text()).find("blocking: more than count"), std::string::npos);
}

TEST(InferInput, MissingFilesAndDirectoriesAreErrors) {
  const auto message = [](const std::string& path) {
    try {
      load_trace(path);
    } catch (const TraceError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message("/nonexistent/trace.json").find("No such file"), std::string::npos);
  EXPECT_NE(message(std::filesystem::temp_directory_path().string()).find("is a directory"), std::string::npos);
}

}  // namespace
}  // namespace smplock::infer
