// `smplock report FILE.json [--svg OUT.svg] [--json OUT.json] [--set NAME] [--budget P]`: the text
// report, or the picture, from a saved JSON report: a snapshot (stats::report_now(),
// stats::to_json()), a `smplock pound --json` file, which holds one snapshot per lock set and the
// story: its table comes first, and --svg draws the story (the pound library's story_text and
// story_svg), or a `smplock record` trace (one process's: stats::trace_from_json()). --json writes
// what was read as a stats snapshot (schema smplock-stats), e.g. to keep a trace's figures in that form.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "smplock/pound_story.hpp"
#include "smplock/report.hpp"

namespace smplock::tools {
namespace {

struct ReportArgs {
  std::string json;
  std::string svg;
  std::string json_out;
  std::string set;  // only this lock set of a `smplock pound` file
  double budget = stats::kBudgetPercent;
};

// Exit status 2 for anything wrong with the input, like a bad argument.
[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "smplock report: %s\n", what.c_str());
  std::exit(2);
}

void write_file(const std::string& path, const std::string& content) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) fail("cannot write '" + path + "': " + std::strerror(errno));
  const bool written = std::fwrite(content.data(), 1, content.size(), out) == content.size();
  if (std::fclose(out) != 0 || !written) fail("cannot write '" + path + "'");
}

// The snapshots as stats JSON: one alone, several as a "sets" file (what snapshots_from_json() reads).
std::string sets_json(const std::vector<stats::NamedSnapshot>& sets) {
  if (sets.size() == 1 && sets.front().name.empty()) return stats::to_json(sets.front().snapshot) + "\n";
  nlohmann::json j;
  j["sets"] = nlohmann::json::array();
  for (const stats::NamedSnapshot& n : sets)
    j["sets"].push_back({{"locks", n.name}, {"stats", nlohmann::json::parse(stats::to_json(n.snapshot))}});
  return j.dump(2) + "\n";
}

// A `smplock record` trace: the process's table (with a pointer to levels --infer for its order),
// or its picture, or its figures as a stats snapshot.
void run_trace(const ReportArgs& args, const std::string& text) {
  stats::TraceReport trace;
  try {
    trace = stats::trace_from_json(text);
  } catch (const stats::JsonError& e) {
    fail("'" + args.json + "' is not a trace this build reads: " + e.what());
  }
  if (!args.set.empty()) fail("--set picks a lock set of a pound file; '" + args.json + "' is a record trace");
  stats::ReportOptions options;
  options.budget_percent = args.budget;
  options.from_trace = true;
  const std::vector<stats::NamedSnapshot> sets{{stats::trace_title(trace.trace), trace.snapshot}};
  if (!args.svg.empty()) write_file(args.svg, stats::to_svg(sets, options));
  if (!args.json_out.empty()) write_file(args.json_out, stats::to_json(trace.snapshot) + "\n");
  if (args.svg.empty() && args.json_out.empty())
    stats::report_trace_text(trace, args.json, [](std::string_view t) { std::fwrite(t.data(), 1, t.size(), stdout); },
                             options);
}

void run(const ReportArgs& args) {
  std::error_code ec;
  if (std::filesystem::is_directory(args.json, ec)) fail("'" + args.json + "' is a directory, not a JSON report");
  std::ifstream in(args.json, std::ios::binary);
  if (!in) fail("cannot read '" + args.json + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail("cannot read '" + args.json + "'");
  if (stats::is_trace_json(text.str())) return run_trace(args, text.str());
  std::vector<stats::NamedSnapshot> sets;
  try {
    sets = stats::snapshots_from_json(text.str());
  } catch (const stats::JsonError& e) {
    fail("'" + args.json + "' is not a smplock report: " + e.what());
  }
  if (!args.set.empty()) {
    std::erase_if(sets, [&](const stats::NamedSnapshot& n) { return n.name != args.set; });
    if (sets.empty()) fail("'" + args.json + "' has no lock set named '" + args.set + "'");
  }
  // A pound file's story, unless one lock set was asked for.
  pound::Story story;
  const bool has_story = args.set.empty() && pound::has_story(text.str());
  if (has_story) {
    try {
      story = pound::story_from_json(text.str());
    } catch (const std::exception& e) {
      fail("'" + args.json + "': " + e.what());
    }
  }
  stats::ReportOptions options;
  options.budget_percent = args.budget;
  if (!args.json_out.empty()) write_file(args.json_out, sets_json(sets));
  if (args.svg.empty()) {
    if (!args.json_out.empty()) return;
    if (has_story) std::printf("%s\n", pound::story_text(story).c_str());
    for (std::size_t i = 0; i < sets.size(); ++i) {
      if (!sets[i].name.empty()) std::printf("%s=== lock set: %s ===\n", i == 0 ? "" : "\n", sets[i].name.c_str());
      stats::report_text(sets[i].snapshot, stdout, options);
    }
    return;
  }
  write_file(args.svg, has_story ? pound::story_svg(story) : stats::to_svg(sets, options));
}

}  // namespace

CLI::App* add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Print the contention table from a saved JSON report, or draw it as SVG");
  auto args = std::make_shared<ReportArgs>();
  cmd->add_option("file", args->json,
                  "JSON report: a stats snapshot (schema smplock-stats, docs/stats.md), a `smplock pound --json` file "
                  "or a `smplock record` trace (one process's, docs/record.md)")
      ->required()
      ->check(file_name());
  cmd->add_option("--set", args->set, "Only this lock set of a pound file (giant, coarse, ozone)");
  cmd->add_option("--svg", args->svg, "Write the picture to this SVG file instead of printing the table")
      ->check(file_name());
  cmd->add_option("--json", args->json_out,
                  "Write what was read as a stats snapshot (schema smplock-stats) to this JSON file instead of "
                  "printing the table")
      ->check(file_name());
  cmd->add_option("--budget", args->budget, "Contention budget per class, in percent of CPU time, above 0 and at most 100")
      ->check(number_in(0, 100, true, "a percentage"))
      ->capture_default_str();
  cmd->callback([args] { run(*args); });
  return cmd;
}

}  // namespace smplock::tools
