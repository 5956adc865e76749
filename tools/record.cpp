// `smplock record [-o FILE] [--wrapper REGEX]... [--] PROGRAM [ARGS...]`: runs an unmodified,
// dynamically linked program with libsmplock-record.so preloaded, then finishes the trace each of
// its processes wrote (FILE for the program, FILE.<pid> for its children). The program's output is
// its own (this command writes to stderr only, and only with -v), and its exit status is passed on:
// an exit code as the same code, a death by signal as the same signal raised again.
// `smplock record --finish RAW...` finishes raw traces left by a run without the command.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.hpp"
#include "launch.hpp"
#include "record_finish.hpp"

namespace smplock::tools {
namespace {

constexpr const char* kWho = "smplock record";

struct RecordArgs {
  std::string out = "smplock-trace.json";
  std::vector<std::string> wrappers;
  bool finish_only = false;
  bool verbose = false;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", kWho, what.c_str());
  std::exit(2);
}

// The traces the processes wrote, from the list they appended to (then removed).
std::vector<std::string> written_traces(const std::string& list) {
  std::vector<std::string> paths;
  std::set<std::string> seen;
  std::ifstream in(list);
  std::string line;
  while (std::getline(in, line)) {
    // A name an exec took is taken back when the exec fails (the image writes its usual one at exit).
    std::error_code ec;
    if (!line.empty() && seen.insert(line).second && std::filesystem::exists(line, ec)) paths.push_back(line);
  }
  std::remove(list.c_str());
  return paths;
}

void finish_all(const std::vector<std::string>& paths, const RecordArgs& args) {
  record::FinishOptions options;
  options.wrappers = args.wrappers;
  for (const std::string& p : paths) {
    try {
      const record::FinishSummary s = record::finish_trace(p, options);
      if (args.verbose)
        std::fprintf(stderr, "smplock record: %s: %zu classes, %zu edges, %zu same-class nestings%s\n", p.c_str(),
                     s.classes, s.edges, s.nesting, s.already_finished ? " (already finished)" : "");
    } catch (const std::exception& e) {
      std::fprintf(stderr, "smplock record: %s\n", e.what());
    }
  }
}

void run(const RecordArgs& args, const std::vector<std::string>& rest) {
  if (args.finish_only) {
    if (rest.empty()) fail("--finish needs the raw trace files to finish");
    finish_all(rest, args);
    std::exit(0);
  }
  if (rest.empty()) fail("no program to run (smplock record [-o FILE] [--] PROGRAM [ARGS...])");
  if (args.out.empty()) fail("-o needs a file name");
  for (const std::string& w : args.wrappers) {
    try {
      std::regex check(w, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail("--wrapper '" + w + "' is not a regular expression: " + e.what());
    }
  }
  std::error_code ec;
  const std::string out = std::filesystem::absolute(args.out, ec).string();
  const std::string list = out + ".list";
  std::remove(list.c_str());
  const std::string library = launch::find_interposer(kWho);
  const int status = launch::run_preloaded(kWho, library, rest, [&] {
    setenv("SMPLOCK_RECORD_OUT", out.c_str(), 1);
    setenv("SMPLOCK_RECORD_LIST", list.c_str(), 1);
    setenv("SMPLOCK_RECORD_ROOT", std::to_string(getpid()).c_str(), 1);
  });
  const std::vector<std::string> traces = written_traces(list);
  if (traces.empty() && args.verbose) {
    std::fprintf(stderr,
                 "smplock record: no trace was written (a process ended by _exit, SIGKILL or a signal the record "
                 "tool does not handle writes none, see docs/record.md; a statically linked program cannot be "
                 "recorded)\n");
  }
  finish_all(traces, args);
  launch::pass_on(status);
}

}  // namespace

CLI::App* add_record(CLI::App& app) {
  auto* cmd = app.add_subcommand("record", "Run a program with its pthread locks recorded: lock classes, "
                                           "order edges and contention, for `smplock levels --infer`");
  auto args = std::make_shared<RecordArgs>();
  cmd->add_option("-o,--output", args->out, "The trace (children's traces: FILE.<pid>)")->capture_default_str();
  cmd->add_option("--wrapper", args->wrappers,
                  "A regular expression on function names: the program's own lock wrappers, skipped when "
                  "naming classes and call sites (may be repeated)");
  cmd->add_flag("--finish", args->finish_only, "Finish raw trace files left by a run without this command");
  cmd->add_flag("-v,--verbose", args->verbose, "Say what each trace holds (on stderr)");
  launch::take_program(cmd, [args](const std::vector<std::string>& program) { run(*args, program); });
  return cmd;
}

}  // namespace smplock::tools
