// The report read from a `smplock record` trace (report/trace_input.cpp): a hand-written trace,
// tests/report/small.trace.json, becomes a Snapshot whose figures the table shows (contention
// against the budget, wait, hold, call sites named by the program's code), whose stats JSON reads
// back equal, and whose picture is drawn; bad traces are refused with the place named; and the
// `smplock report` command prints the table, writes the JSON and the SVG, and exits 2 on bad input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "smplock/report.hpp"

namespace smplock::stats {
namespace {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string kFixture = std::string(SMPLOCK_SOURCE_DIR) + "/tests/report/small.trace.json";

std::string fixture() {
  const std::string text = read(kFixture);
  EXPECT_FALSE(text.empty()) << "cannot read " << kFixture;
  return text;
}

bool has_line(const std::string& text, const std::string& pattern) {
  std::istringstream in(text);
  const std::regex re(pattern);
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, re)) return true;
  return false;
}

std::string error_of(const std::string& text) {
  try {
    trace_from_json(text);
  } catch (const JsonError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ReportTrace, DetectsATraceByItsSchema) {
  EXPECT_TRUE(is_trace_json(fixture()));
  EXPECT_TRUE(is_trace_json(R"({"schema":"smplock-trace-raw","version":1})"));
  EXPECT_FALSE(is_trace_json(R"({"schema":"smplock-stats","version":1})"));
  EXPECT_FALSE(is_trace_json(R"({"sets":[]})"));
  EXPECT_FALSE(is_trace_json("not JSON"));
  EXPECT_FALSE(is_trace_json("[1, 2]"));
}

TEST(ReportTrace, BecomesASnapshot) {
  const TraceReport r = trace_from_json(fixture());
  EXPECT_EQ(r.trace.program, "/usr/bin/app");
  EXPECT_EQ(r.trace.pid, 4242u);
  EXPECT_EQ(r.trace.ppid, 4241u);
  EXPECT_EQ(r.trace.threads, 4u);
  EXPECT_EQ(r.trace.classes, 3u);
  EXPECT_EQ(r.trace.edges, 2u);
  EXPECT_EQ(r.trace.nesting, 1u);
  const Snapshot& s = r.snapshot;
  EXPECT_EQ(s.window_ns(), 1'000'000'000u);
  EXPECT_EQ(s.cpus, 2u);
  EXPECT_TRUE(s.hold_timing);
  EXPECT_TRUE(s.levels.empty());
  ASSERT_EQ(s.classes.size(), 3u);
  const ClassStats& q = s.classes[0];
  EXPECT_EQ(q.name, "make_queue:12");
  EXPECT_EQ(q.level, Level::Null);
  EXPECT_EQ(q.counters.acquisitions, 50000u);
  EXPECT_EQ(q.counters.contended, 500u);
  EXPECT_EQ(q.counters.wait_ns, 40'000'000u);
  EXPECT_EQ(q.counters.max_wait_ns, 2'000'000u);
  EXPECT_EQ(q.counters.hold_ns, 64000u);
  EXPECT_EQ(q.counters.hold_samples, 800u);
  EXPECT_EQ(q.counters.spins, 0u);
  // 40 ms of 1 s x 2 CPUs; the mean sampled hold (80 ns) times the acquisitions.
  EXPECT_DOUBLE_EQ(s.contention_percent(q.counters), 2.0);
  EXPECT_DOUBLE_EQ(estimated_hold_ns(q.counters), 4e6);
  EXPECT_DOUBLE_EQ(s.contention_percent(s.classes[1].counters), 0.1);
  // Most contended site first; a frame with no function is named by its object; the rest is other.
  ASSERT_EQ(q.call_sites.size(), 3u);
  EXPECT_EQ(q.call_sites[0], (CallSite{0x1a2b, 300, "worker(Queue&)", "/src/queue.cpp", 42}));
  EXPECT_EQ(q.call_sites[1].function, "libfoo_call");
  EXPECT_EQ(q.call_sites[2].function, "libbar.so.2+0xbeef");
  EXPECT_EQ(q.other_sites, 30u);
  EXPECT_EQ(s.classes[2].name, "libsqlite3.so.0+0x15eac8");
}

TEST(ReportTrace, TextTableShowsTheFigures) {
  const TraceReport r = trace_from_json(fixture());
  std::string out;
  report_trace_text(r, "small.trace.json", [&](std::string_view t) { out += t; });
  EXPECT_TRUE(has_line(out, R"(^smplock record trace of /usr/bin/app \(pid 4242\), parent 4241, arguments: --threads 4; )"
                            R"(this process only)")) << out;
  EXPECT_TRUE(has_line(out, R"(window 1 s, 2 CPUs)")) << out;
  EXPECT_TRUE(has_line(out, R"(total 2\.100%)")) << out;
  // class, level, contention and the budget mark, acquired, contended, rate, wait, max wait, hold,
  // then what a trace does not count.
  EXPECT_TRUE(has_line(out, R"(^make_queue:12 +- +2\.000% ! +50\.0k +500 +1\.0% +40 ms +2 ms +4 ms +- +- +- +- +-$)"))
      << out;
  EXPECT_TRUE(has_line(out, R"(^stats_mutex +- +0\.100% +1000 +10 +1\.0% +2 ms +400 us +- +- +- +- +- +-$)")) << out;
  // The library-address name is not cut to 20 characters.
  EXPECT_TRUE(has_line(out, R"(^libsqlite3\.so\.0\+0x15eac8 +- +0\.000% +7 +0 )")) << out;
  EXPECT_TRUE(has_line(out, R"(^ +300 from worker\(Queue&\) \(queue\.cpp:42\)$)")) << out;
  EXPECT_TRUE(has_line(out, R"(^ +150 from libfoo_call$)")) << out;
  EXPECT_TRUE(has_line(out, R"(^ +20 from libbar\.so\.2\+0xbeef$)")) << out;
  EXPECT_TRUE(has_line(out, R"(^ +30 from other call sites$)")) << out;
  EXPECT_TRUE(has_line(out, R"(^ +10 from flush_stats \(stats\.cpp:7\)$)")) << out;
  EXPECT_TRUE(has_line(out, R"(^  make_queue:12: 2\.000% of CPU time waiting)")) << out;
  EXPECT_TRUE(has_line(out, R"(^  make_queue:12: acquisitions=50000 contended=500 wait_ns=40000000 hold_ns=64000 )"
                            R"(hold_samples=800 max_wait_ns=2000000$)")) << out;
  EXPECT_TRUE(has_line(out, R"(^lock order: 2 order edges, same-class nesting in 1 class among 3 classes: )"
                            R"(`smplock levels --infer small\.trace\.json`)")) << out;
  // Nothing made up: no levels, no spins or queue counts, no per-level rows.
  EXPECT_FALSE(has_line(out, "smplevel|Null|spins=")) << out;

  ReportOptions loose;
  loose.budget_percent = 5;
  out.clear();
  report_trace_text(r, "t.json", [&](std::string_view t) { out += t; }, loose);
  EXPECT_TRUE(has_line(out, R"(^split candidates: none \(every class is within the 5\.00% budget\))")) << out;
}

TEST(ReportTrace, NoOrderAndAFatalSignalSaySo) {
  std::string text = fixture();
  const std::size_t edges = text.find("\"edges\"");
  ASSERT_NE(edges, std::string::npos);
  text = text.substr(0, edges) + "\"edges\": [], \"nesting\": [], \"end\": {\"by\": \"signal\", \"signal\": 11}}";
  std::string out;
  report_trace_text(trace_from_json(text), "t.json", [&](std::string_view t) { out += t; });
  EXPECT_TRUE(has_line(out, "^lock order: no class was taken while another was held")) << out;
  EXPECT_TRUE(has_line(out, R"(^smplock record trace of /usr/bin/app \(pid 4242\), .*, ended by signal 11; )")) << out;
}

TEST(ReportTrace, JsonRoundTrip) {
  const Snapshot s = trace_from_json(fixture()).snapshot;
  const std::string json = to_json(s);
  EXPECT_NE(json.find("\"schema\": \"smplock-stats\""), std::string::npos);
  EXPECT_EQ(from_json(json), s);
  const std::vector<NamedSnapshot> sets = snapshots_from_json(json);
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].snapshot, s);
}

TEST(ReportTrace, SvgIsDrawn) {
  const TraceReport r = trace_from_json(fixture());
  ReportOptions options;
  options.from_trace = true;
  const std::string svg = to_svg({NamedSnapshot{trace_title(r.trace), r.snapshot}}, options);
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_NE(svg.find("smplock contention report: trace of /usr/bin/app (pid 4242)"), std::string::npos);
  EXPECT_NE(svg.find(">make_queue:12<"), std::string::npos) << "a class with no level is drawn by its name alone";
  EXPECT_NE(svg.find("Split make_queue:12: 2.000% of CPU time waiting"), std::string::npos);
  EXPECT_NE(svg.find("wait 40 ms (max 2 ms), hold 4 ms"), std::string::npos);
  EXPECT_NE(svg.find("libsqlite3.so.0+0x15eac8"), std::string::npos);
  EXPECT_EQ(svg.find("Null"), std::string::npos);
}

TEST(ReportTrace, BadTracesSayWhatAndWhere) {
  const std::string good = fixture();
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    const std::size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_NE(error_of(with("\"version\": 1", "\"version\": 2")).find("version: trace version 2 is not supported"),
            std::string::npos);
  EXPECT_NE(error_of(with("\"smplock-trace\"", "\"smplock-trace-raw\"")).find("smplock record --finish"),
            std::string::npos);
  EXPECT_NE(error_of(with("\"smplock-trace\"", "\"smplock-stats\"")).find("schema: \"smplock-stats\", not \"smplock-trace\""),
            std::string::npos);
  EXPECT_NE(error_of(with("\"wait_ns\": 2000000, ", "")).find("classes[1].wait_ns: missing"), std::string::npos);
  EXPECT_NE(error_of(with("\"pc\": \"0x1a2b\"", "\"pc\": \"zz\"")).find("classes[0].contended_sites[1].frame.pc"),
            std::string::npos);
  EXPECT_NE(error_of(with("\"contended\": 10,", "\"contended\": 1001,")).find("classes[1].contended"),
            std::string::npos);
  EXPECT_NE(error_of(with("\"cpus\": 2", "\"cpus\": 0")).find("cpus: 0, but classes[0]"), std::string::npos);
  EXPECT_NE(error_of("{").find("not JSON"), std::string::npos);
}

#ifdef SMPLOCK_CLI
// `smplock report TRACE.json`: the table, --json, --svg, and exit status 2 for bad input.
class ReportTraceCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("smplock-report-trace-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  int run(const std::string& args, std::string& out) {
    const std::string cmd = std::string(SMPLOCK_CLI) + " " + args + " > " + (dir_ / "out.txt").string() + " 2>&1";
    const int status = std::system(cmd.c_str());
    out = read(dir_ / "out.txt");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::string write(const std::string& name, const std::string& content) {
    std::ofstream(dir_ / name) << content;
    return (dir_ / name).string();
  }
  std::filesystem::path dir_;
};

TEST_F(ReportTraceCommand, PrintsTheTable) {
  std::string out;
  ASSERT_EQ(run("report " + kFixture, out), 0) << out;
  EXPECT_TRUE(has_line(out, R"(^make_queue:12 +- +2\.000% ! +50\.0k +500 )")) << out;
  EXPECT_TRUE(has_line(out, "`smplock levels --infer " + kFixture + "`")) << out;
}

TEST_F(ReportTraceCommand, WritesJsonAndSvg) {
  std::string out;
  const std::string json = (dir_ / "t.json").string(), svg = (dir_ / "t.svg").string();
  ASSERT_EQ(run("report " + kFixture + " --json " + json + " --svg " + svg, out), 0) << out;
  EXPECT_EQ(out, "");  // the files instead of the table
  const Snapshot s = trace_from_json(fixture()).snapshot;
  EXPECT_EQ(from_json(read(json)), s);
  ReportOptions options;
  options.from_trace = true;
  EXPECT_EQ(read(svg), to_svg({NamedSnapshot{trace_title(trace_from_json(fixture()).trace), s}}, options));
  // The written JSON is a stats report like any other.
  ASSERT_EQ(run("report " + json, out), 0) << out;
  EXPECT_TRUE(has_line(out, R"(^make_queue:12 .* 2\.000% ! +50\.0k +500 )")) << out;
}

TEST_F(ReportTraceCommand, BadInputExitsTwo) {
  std::string out;
  std::string t = fixture();
  t.replace(t.find("\"version\": 1"), 12, "\"version\": 7");
  EXPECT_EQ(run("report " + write("v7.json", t), out), 2) << out;
  EXPECT_NE(out.find("is not a trace this build reads: version: trace version 7 is not supported"), std::string::npos)
      << out;
  EXPECT_EQ(run("report " + write("other.json", R"({"schema": "something-else", "version": 1})"), out), 2) << out;
  EXPECT_NE(out.find("is not a smplock report: schema: expected \"smplock-stats\""), std::string::npos) << out;
  EXPECT_NE(out.find("smplock-trace"), std::string::npos) << out;
  EXPECT_EQ(run("report --set giant " + kFixture, out), 2) << out;
  EXPECT_NE(out.find("is a record trace"), std::string::npos) << out;
}
#endif

}  // namespace
}  // namespace smplock::stats
