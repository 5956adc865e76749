// The report from a fixed snapshot: the verdicts, the text table, the JSON round trip and its
// schema (every key documented in docs/stats.md), the SVG, and the `smplock report` command.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "smplock/report.hpp"

namespace smplock::stats {
Snapshot fixed_snapshot();  // stats_fixture.cpp

namespace {

std::string text_of(const Snapshot& s, const ReportOptions& o = {}) {
  std::string out;
  report_text(s, [&](std::string_view t) { out += t; }, o);
  return out;
}

bool has_line(const std::string& text, const std::string& pattern) {
  std::istringstream in(text);
  const std::regex re(pattern);
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, re)) return true;
  return false;
}

TEST(StatsReport, ContentionIsWaitOverCpuTime) {
  const Snapshot s = fixed_snapshot();
  EXPECT_DOUBLE_EQ(s.cpu_ns(), 2e9);
  EXPECT_DOUBLE_EQ(s.contention_percent(s.classes[0].counters), 2.0);  // 40 ms of 2 CPU-seconds
  EXPECT_DOUBLE_EQ(s.contention_percent(s.classes[1].counters), 0.1);
}

TEST(StatsReport, VerdictsSplitAndTooMany) {
  const Snapshot s = fixed_snapshot();
  const Analysis a = analyze(s);
  ASSERT_EQ(a.classes.size(), 4u);  // "idle" is left out
  EXPECT_EQ(a.classes[0].cls->name, "PM");
  EXPECT_EQ(a.classes[1].cls->name, "CP");
  ASSERT_EQ(a.split.size(), 1u);
  EXPECT_EQ(a.split[0].cls->name, "PM");
  ASSERT_EQ(a.too_many.size(), 1u);
  EXPECT_EQ(a.too_many[0].cls->name, "TF");
  EXPECT_EQ(a.too_many[0].usual_parent->name, "per process <&>");
  EXPECT_DOUBLE_EQ(a.too_many[0].parent_share, 0.99);
  EXPECT_NEAR(a.total_percent, 2.1 + 0.00005, 1e-9);

  ReportOptions strict;
  strict.budget_percent = 0.05;  // now CP is over too
  strict.nested_share = 0.7;     // and CP (75% under PM) is one too many
  const Analysis b = analyze(s, strict);
  EXPECT_EQ(b.split.size(), 2u);
  EXPECT_EQ(b.too_many.size(), 2u);

  Snapshot irq = fixed_snapshot();
  irq.classes[2].level = irq_level(14);  // TF's nesting, but on an interrupt line's lock
  EXPECT_TRUE(analyze(irq).too_many.empty());

  ReportOptions idle;
  idle.show_idle = true;
  EXPECT_EQ(analyze(s, idle).classes.size(), 5u);
}

TEST(StatsReport, TextTable) {
  const std::string t = text_of(fixed_snapshot());
  EXPECT_TRUE(has_line(t, "^smplock contention report: window 1 s, 2 CPUs \\(2 processors\\), hold timing on$")) << t;
  EXPECT_TRUE(has_line(t, "^PM +48 PM +2\\.000% ! +100\\.0k +5000 +5\\.0% +40 ms +90 us +300 ms +50 us")) << t;
  EXPECT_TRUE(has_line(t, "^CP +49 CP +0\\.100% +256 +10 +3\\.9%")) << t;
  EXPECT_TRUE(has_line(t, "^ +4000 from disk_read\\(Cache&\\) \\(disk\\.cpp:88\\)$")) << t;
  EXPECT_TRUE(has_line(t, "^ +900 from 0x405678$")) << t;
  EXPECT_TRUE(has_line(t, "^ +50 from std::thread::_State_impl<>::_M_run\\(\\) \\(main\\.cpp:12\\)$")) << t;
  EXPECT_FALSE(has_line(t, "operator<<")) << t;  // the fourth site: past options.call_sites (3)
  ReportOptions all_sites;
  all_sites.call_sites = 10;
  EXPECT_TRUE(has_line(text_of(fixed_snapshot(), all_sites), "^ +10 from operator<<\\(Log&, int\\)$"));
  EXPECT_TRUE(has_line(t, "^ +100 from other call sites$")) << t;
  EXPECT_TRUE(has_line(t, "^split candidates \\(over the 1\\.00% budget")) << t;
  EXPECT_TRUE(has_line(t, "^  PM at 48 PM: 2\\.000% of CPU time waiting")) << t;
  EXPECT_TRUE(has_line(t, "^  TF at 4C TF inside per process <&> at 4A PS: 99\\.0% of 100 samples$")) << t;
  EXPECT_TRUE(has_line(t, "^  smplevel\\[48\\] PM +classes +1 +acquired +100\\.0k +contended +5000 +5\\.0% +wait +40 ms "
                          "\\(2\\.000%\\) +max wait +90 us +irq deferred +12")) << t;
  EXPECT_FALSE(has_line(t, "idle")) << t;
  // Rows sorted by contention: PM before CP before the per-process class before TF.
  EXPECT_LT(t.find("\nPM "), t.find("\nCP "));
  EXPECT_LT(t.find("\nCP "), t.find("\nper process"));
  EXPECT_LT(t.find("\nper process"), t.find("\nTF "));
  // Every counter of the list appears in the per-class section.
  for (const CounterInfo& info : kCounters) EXPECT_NE(t.find(std::string(" ") + info.key + "="), std::string::npos) << info.key;
}

TEST(StatsReport, TextWithNothingToSay) {
  Snapshot s;
  s.start_ns = 0;
  s.end_ns = 1000;
  s.cpus = 1;
  const std::string t = text_of(s);
  EXPECT_TRUE(has_line(t, "no lock was taken")) << t;
  EXPECT_TRUE(has_line(t, "^split candidates: none")) << t;
  EXPECT_TRUE(has_line(t, "^too many locks: none")) << t;
}

TEST(StatsReport, TextToFile) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  report_text(fixed_snapshot(), f);
  std::rewind(f);
  char buf[128] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, f), nullptr);
  EXPECT_EQ(std::string(buf).rfind("smplock contention report", 0), 0u);
  std::fclose(f);
}

TEST(StatsReport, JsonRoundTrip) {
  const Snapshot s = fixed_snapshot();
  EXPECT_EQ(from_json(to_json(s)), s);
  EXPECT_EQ(from_json(to_json(s, -1)), s);  // compact too
  Snapshot empty;
  EXPECT_EQ(from_json(to_json(empty)), empty);
}

// A file written before the same_class counter existed (same schema version) still reads, with 0.
TEST(StatsReport, JsonWithoutSameClassCounterReadsAsZero) {
  Snapshot s = fixed_snapshot();
  for (ClassStats& c : s.classes) c.counters.same_class = 0;
  for (LevelStats& l : s.levels) l.counters.same_class = 0;
  nlohmann::json j = nlohmann::json::parse(to_json(s));
  for (auto& c : j["classes"]) c["counters"].erase("same_class");
  for (auto& l : j["levels"]) l["counters"].erase("same_class");
  ASSERT_FALSE(j["classes"].empty());
  EXPECT_EQ(from_json(j.dump()), s);
}

// The schema: exactly these keys at each place, and each one explained in docs/stats.md.
TEST(StatsReport, JsonSchema) {
  const nlohmann::json j = nlohmann::json::parse(to_json(fixed_snapshot()));
  const auto keys = [](const nlohmann::json& o) {
    std::set<std::string> k;
    for (auto it = o.begin(); it != o.end(); ++it) k.insert(it.key());
    return k;
  };
  EXPECT_EQ(j["schema"], "smplock-stats");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(keys(j), (std::set<std::string>{"schema", "version", "window", "cpus", "processors", "hold_timing",
                                            "nest_sample_period", "budget_percent", "classes", "levels"}));
  EXPECT_EQ(keys(j["window"]), (std::set<std::string>{"start_ns", "end_ns", "ns"}));
  EXPECT_EQ(j["window"]["ns"], 1'000'000'000u);
  std::set<std::string> counter_keys;
  for (const CounterInfo& info : kCounters) counter_keys.insert(info.key);
  ASSERT_EQ(j["classes"].size(), 5u);
  for (const auto& c : j["classes"]) {
    EXPECT_EQ(keys(c), (std::set<std::string>{"id", "name", "level", "level_name", "contention_percent", "counters",
                                              "call_sites", "other_sites", "parents"}));
    EXPECT_EQ(keys(c["counters"]), counter_keys);
    for (const auto& site : c["call_sites"])
      EXPECT_EQ(keys(site), (std::set<std::string>{"pc", "count", "function", "file", "line"}));
    for (const auto& p : c["parents"]) EXPECT_EQ(keys(p), (std::set<std::string>{"name", "level", "samples"}));
  }
  EXPECT_EQ(j["classes"][0]["level"], 0x48);
  EXPECT_EQ(j["classes"][0]["level_name"], "PM");
  EXPECT_DOUBLE_EQ(j["classes"][0]["contention_percent"].get<double>(), 2.0);
  for (const auto& l : j["levels"])
    EXPECT_EQ(keys(l), (std::set<std::string>{"level", "level_name", "classes", "contention_percent", "counters"}));

  // docs/stats.md names every key, in backquotes.
  std::ifstream doc(SMPLOCK_SOURCE_DIR "/docs/stats.md");
  ASSERT_TRUE(doc) << "docs/stats.md is missing";
  std::stringstream text;
  text << doc.rdbuf();
  std::set<std::string> all;
  const std::function<void(const nlohmann::json&)> collect = [&](const nlohmann::json& v) {
    if (v.is_object())
      for (auto it = v.begin(); it != v.end(); ++it) {
        all.insert(it.key());
        collect(it.value());
      }
    else if (v.is_array())
      for (const auto& e : v) collect(e);
  };
  collect(j);
  for (const std::string& k : all) EXPECT_NE(text.str().find("`" + k + "`"), std::string::npos) << "undocumented: " << k;
  // The counters' table lists them in the list's order (it is the list).
  std::size_t last = 0;
  for (const CounterInfo& info : kCounters) {
    const std::size_t at = text.str().find(std::string("| `") + info.key + "` |");
    ASSERT_NE(at, std::string::npos) << info.key << " has no row in the counters table";
    EXPECT_GT(at, last) << info.key << " is out of order in docs/stats.md";
    last = at;
  }
}

void expect_json_error(const std::string& text, const std::string& message) {
  try {
    (void)from_json(text);
    ADD_FAILURE() << "accepted: " << text.substr(0, 200);
  } catch (const JsonError& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
  }
}

TEST(StatsReport, JsonErrorsSayWhatAndWhere) {
  const nlohmann::json good = nlohmann::json::parse(to_json(fixed_snapshot()));
  expect_json_error("{not json", "not JSON");
  expect_json_error("[1, 2]", "(top): not an object");
  nlohmann::json j = good;
  j["schema"] = "something-else";
  expect_json_error(j.dump(), "schema: expected \"smplock-stats\"");
  j = good;
  j["version"] = 2;
  expect_json_error(j.dump(), "version 2 is not supported");
  j = good;
  j["classes"][1]["counters"].erase("wait_ns");
  expect_json_error(j.dump(), "classes[1].counters.wait_ns: missing");
  j = good;
  j["classes"][0]["counters"]["contended"] = -3;
  expect_json_error(j.dump(), "classes[0].counters.contended: not an unsigned integer");
  j = good;
  j["classes"][0]["level"] = 300;
  expect_json_error(j.dump(), "classes[0].level: not a level");
  j = good;
  j["classes"][0]["call_sites"][0].erase("pc");
  expect_json_error(j.dump(), "classes[0].call_sites[0].pc: missing");
  j = good;
  j.erase("levels");
  expect_json_error(j.dump(), "levels: missing");
  j = good;
  j["window"]["end_ns"] = 0;
  expect_json_error(j.dump(), "window: end_ns before start_ns");
}

// A file with several snapshots, the way `smplock pound --json` writes one per lock set.
std::string two_sets() {
  nlohmann::json doc;
  doc["schema"] = "smplock-pound";
  doc["version"] = 1;
  Snapshot quiet = fixed_snapshot();
  quiet.classes.resize(2);
  quiet.classes[0].counters.wait_ns = 0;
  quiet.levels = by_level(quiet.classes);
  doc["sets"] = nlohmann::json::array({{{"locks", "giant"}, {"stats", nlohmann::json::parse(to_json(fixed_snapshot()))}},
                                       {{"locks", "ozone"}, {"stats", nlohmann::json::parse(to_json(quiet))}}});
  return doc.dump();
}

TEST(StatsReport, SeveralSnapshotsInOneFile) {
  const std::vector<NamedSnapshot> sets = snapshots_from_json(two_sets());
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].name, "giant");
  EXPECT_EQ(sets[0].snapshot, fixed_snapshot());
  EXPECT_EQ(sets[1].name, "ozone");
  EXPECT_EQ(sets[1].snapshot.classes.size(), 2u);
  // A plain snapshot comes back alone, unnamed.
  const std::vector<NamedSnapshot> one = snapshots_from_json(to_json(fixed_snapshot()));
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].name, "");
  // Errors inside a set say which.
  nlohmann::json j = nlohmann::json::parse(two_sets());
  j["sets"][1]["stats"]["classes"][0].erase("name");
  try {
    (void)snapshots_from_json(j.dump());
    ADD_FAILURE() << "accepted";
  } catch (const JsonError& e) {
    EXPECT_STREQ(e.what(), "sets[1].stats.classes[0].name: missing");
  }
  j = nlohmann::json::parse(two_sets());
  j["sets"][0]["stats"] = 5;
  try {
    (void)snapshots_from_json(j.dump());
    ADD_FAILURE() << "accepted";
  } catch (const JsonError& e) {
    EXPECT_STREQ(e.what(), "sets[0].stats: not an object");
  }
  try {
    (void)snapshots_from_json("{\"schema\": \"other\"}");
    ADD_FAILURE() << "accepted";
  } catch (const JsonError& e) {
    EXPECT_NE(std::string(e.what()).find("schema: expected"), std::string::npos) << e.what();
  }
  // One picture with both sets, one under the other.
  const std::string svg = to_svg(sets);
  EXPECT_NE(svg.find("smplock contention report: giant"), std::string::npos);
  EXPECT_NE(svg.find("smplock contention report: ozone"), std::string::npos);
  EXPECT_NE(svg.find("<g transform=\"translate(0,"), std::string::npos);
  EXPECT_EQ(to_svg(one), to_svg(fixed_snapshot()));
}

TEST(StatsReport, Svg) {
  const std::string svg = to_svg(fixed_snapshot());
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  // Self-contained: no scripts, no links, no external images or fonts.
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_EQ(svg.find("href"), std::string::npos);
  EXPECT_EQ(svg.find("url("), std::string::npos);
  // The budget line, the over-budget bar, names escaped.
  EXPECT_NE(svg.find("stroke=\"#d62728\" stroke-width=\"3\" stroke-dasharray"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#d62728\""), std::string::npos);
  EXPECT_NE(svg.find("per process &lt;&amp;&gt; (PS)"), std::string::npos);
  EXPECT_EQ(svg.find("<&>"), std::string::npos);
  EXPECT_NE(svg.find("2.000%"), std::string::npos);
  EXPECT_NE(svg.find("Split PM: 2.000% of CPU time waiting"), std::string::npos);
  EXPECT_NE(svg.find("Too many: TF is taken inside per process &lt;&amp;&gt; (PS) in 99% of samples"), std::string::npos);
  // Balanced tags: every opened element is closed (the document has no nesting beyond <svg>).
  std::size_t opened = 0, closed = 0;
  for (const char* tag : {"<text", "<style"}) {
    for (std::size_t p = svg.find(tag); p != std::string::npos; p = svg.find(tag, p + 1)) ++opened;
  }
  for (const char* tag : {"</text>", "</style>"}) {
    for (std::size_t p = svg.find(tag); p != std::string::npos; p = svg.find(tag, p + 1)) ++closed;
  }
  EXPECT_EQ(opened, closed);
  EXPECT_GT(opened, 20u);
}

TEST(StatsReport, FormatNumbers) {
  EXPECT_EQ(format_ns(999), "999 ns");
  EXPECT_EQ(format_ns(1500), "1.5 us");
  EXPECT_EQ(format_ns(40e6), "40 ms");
  EXPECT_EQ(format_ns(2.5e9), "2.5 s");
  EXPECT_EQ(format_count(9999), "9999");
  EXPECT_EQ(format_count(123456), "123.5k");
  EXPECT_EQ(format_count(12'345'678), "12.3M");
}

#ifdef SMPLOCK_CLI
// `smplock report`: the table, the picture, and exit status 2 with a message for bad input.
class ReportCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("smplock-report-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Runs the command; returns its exit status, its output in `out`.
  int run(const std::string& args, std::string& out) {
    const std::string cmd = std::string(SMPLOCK_CLI) + " " + args + " > " + (dir_ / "out.txt").string() + " 2>&1";
    const int status = std::system(cmd.c_str());
    std::ifstream in(dir_ / "out.txt");
    std::stringstream text;
    text << in.rdbuf();
    out = text.str();
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name) << content;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(ReportCommand, PrintsTheTable) {
  const std::string file = write("r.json", to_json(fixed_snapshot()));
  std::string out;
  ASSERT_EQ(run("report " + file, out), 0) << out;
  EXPECT_NE(out.find("smplock contention report"), std::string::npos) << out;
  EXPECT_NE(out.find("smplevel[48]"), std::string::npos) << out;
  ASSERT_EQ(run("report --budget 5 " + file, out), 0) << out;
  EXPECT_NE(out.find("split candidates: none"), std::string::npos) << out;
}

TEST_F(ReportCommand, DrawsTheSvg) {
  const std::string file = write("r.json", to_json(fixed_snapshot()));
  std::string out;
  const std::string svg = (dir_ / "r.svg").string();
  ASSERT_EQ(run("report " + file + " --svg " + svg, out), 0) << out;
  std::ifstream in(svg);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), to_svg(fixed_snapshot()));
}

TEST_F(ReportCommand, ReadsAPoundFile) {
  const std::string file = write("pound.json", two_sets());
  std::string out;
  ASSERT_EQ(run("report " + file, out), 0) << out;
  EXPECT_NE(out.find("=== lock set: giant ===\nsmplock contention report"), std::string::npos) << out;
  EXPECT_NE(out.find("=== lock set: ozone ==="), std::string::npos) << out;
  ASSERT_EQ(run("report --set ozone " + file, out), 0) << out;
  EXPECT_EQ(out.find("giant"), std::string::npos) << out;
  EXPECT_EQ(run("report --set nosuch " + file, out), 2);
  EXPECT_NE(out.find("no lock set named 'nosuch'"), std::string::npos) << out;
  const std::string svg = (dir_ / "p.svg").string();
  ASSERT_EQ(run("report " + file + " --svg " + svg, out), 0) << out;
  EXPECT_TRUE(std::filesystem::file_size(svg) > 1000);
}

TEST_F(ReportCommand, BadInputExitsTwo) {
  std::string out;
  EXPECT_EQ(run("report", out), 2);
  EXPECT_NE(out.find("file is required"), std::string::npos) << out;
  EXPECT_EQ(run("report " + (dir_ / "missing.json").string(), out), 2);
  EXPECT_NE(out.find("cannot read"), std::string::npos) << out;
  EXPECT_EQ(run("report " + write("bad.json", "{\"schema\": \"smplock-stats\"}"), out), 2);
  EXPECT_NE(out.find("is not a smplock report: version: missing"), std::string::npos) << out;
  EXPECT_EQ(run("report " + write("r.json", to_json(fixed_snapshot())) + " --budget -1", out), 2);
  EXPECT_EQ(run("report " + write("r.json", to_json(fixed_snapshot())) + " --svg /nonexistent/dir/x.svg", out), 2);
  EXPECT_NE(out.find("cannot write"), std::string::npos) << out;
}
#endif

}  // namespace
}  // namespace smplock::stats
