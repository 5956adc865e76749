// `smplock report FILE.json [--svg OUT.svg] [--set NAME] [--budget P]`: the text report, or the
// picture, from a saved JSON report: a snapshot (stats::report_now(), stats::to_json()) or a
// `smplock pound --json` file, which holds one snapshot per lock set and the story: its table comes
// first, and --svg draws the story (the pound library's story_text and story_svg).
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

#include "args.hpp"
#include "commands.hpp"
#include "smplock/pound_story.hpp"
#include "smplock/report.hpp"

namespace smplock::tools {
namespace {

struct ReportArgs {
  std::string json;
  std::string svg;
  std::string set;  // only this lock set of a `smplock pound` file
  double budget = stats::kBudgetPercent;
};

// Exit status 2 for anything wrong with the input, like a bad argument.
[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "smplock report: %s\n", what.c_str());
  std::exit(2);
}

void run(const ReportArgs& args) {
  std::error_code ec;
  if (std::filesystem::is_directory(args.json, ec)) fail("'" + args.json + "' is a directory, not a JSON report");
  std::ifstream in(args.json, std::ios::binary);
  if (!in) fail("cannot read '" + args.json + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail("cannot read '" + args.json + "'");
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
  if (args.svg.empty()) {
    if (has_story) std::printf("%s\n", pound::story_text(story).c_str());
    for (std::size_t i = 0; i < sets.size(); ++i) {
      if (!sets[i].name.empty()) std::printf("%s=== lock set: %s ===\n", i == 0 ? "" : "\n", sets[i].name.c_str());
      stats::report_text(sets[i].snapshot, stdout, options);
    }
    return;
  }
  const std::string svg = has_story ? pound::story_svg(story) : stats::to_svg(sets, options);
  std::FILE* out = std::fopen(args.svg.c_str(), "w");
  if (out == nullptr) fail("cannot write '" + args.svg + "': " + std::strerror(errno));
  const bool written = std::fwrite(svg.data(), 1, svg.size(), out) == svg.size();
  if (std::fclose(out) != 0 || !written) fail("cannot write '" + args.svg + "'");
}

}  // namespace

CLI::App* add_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Print the contention table from a saved JSON report, or draw it as SVG");
  auto args = std::make_shared<ReportArgs>();
  cmd->add_option("file", args->json,
                  "JSON report: a stats snapshot (schema smplock-stats, docs/stats.md) or a `smplock pound --json` file")
      ->required()
      ->check(file_name());
  cmd->add_option("--set", args->set, "Only this lock set of a pound file (giant, coarse, ozone)");
  cmd->add_option("--svg", args->svg, "Write the picture to this SVG file instead of printing the table")
      ->check(file_name());
  cmd->add_option("--budget", args->budget, "Contention budget per class, in percent of CPU time, above 0 and at most 100")
      ->check(number_in(0, 100, true, "a percentage"))
      ->capture_default_str();
  cmd->callback([args] { run(*args); });
  return cmd;
}

}  // namespace smplock::tools
