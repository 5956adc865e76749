// `smplock enforce --levels TABLE.json [--warn] [-o TRACE.json] [--] PROGRAM [ARGS...]`: runs an
// unmodified program with libsmplock-record.so preloaded in enforce mode. The level table written
// by `smplock levels --infer --table` is turned here into the interposer's own form: for each class,
// the raw identity the trace recorded (the object and the address in it of a global lock, or of the
// call that made the class), its level and names, so the program can place a new lock class with
// one dladdr and no symbol table (docs/enforce.md). The program's output and exit status are its
// own; a violation aborts it (SIGABRT, passed on) after a report on stderr, or with --warn is
// reported once and the program carries on. With -o the run is recorded as by `smplock record`.
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "launch.hpp"
#include "record_finish.hpp"

namespace smplock::tools {
namespace {

using json = nlohmann::json;
constexpr const char* kWho = "smplock enforce";

struct EnforceArgs {
  std::string levels;
  std::string out;
  std::vector<std::string> wrappers;
  bool warn = false;
  bool verbose = false;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", kWho, what.c_str());
  std::exit(2);
}

std::string base_name(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// A field of the interposer's table: no tab or newline inside.
std::string clean(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s.empty() ? "?" : s;
}

std::string where_of(const json& site) {
  std::string w = site.value("function", "");
  if (site.contains("file")) w += " (" + base_name(site.value("file", "")) + ":" + std::to_string(site.value("line", 0)) + ")";
  if (w.empty()) w = base_name(site.value("object", "")) + "+" + site.value("pc", "");
  return w;
}

// The interposer's table (enforce.hpp): one line per raw identity of each leveled class.
std::string interposer_table(const json& table, const EnforceArgs& args) {
  if (table.value("schema", "") != "smplock-levels")
    fail("'" + args.levels + "' is not a level table (schema \"smplock-levels\", written by levels --infer --table)");
  if (table.value("version", 0) != 1) fail("'" + args.levels + "': table version " + std::to_string(table.value("version", 0)) + " is not known (1 is)");
  std::string out;
  std::size_t lines = 0, unresolved = 0;
  for (const json& c : table.value("classes", json::array())) {
    const std::string key = c.value("key", "");
    const char how = key.rfind("symbol:", 0) == 0 ? 'S' : key.rfind("init:", 0) == 0 ? 'I' : key.rfind("site:", 0) == 0 ? 'F'
                     : key.rfind("alloc:", 0) == 0 ? 'A' : 0;
    // An alloc class's identity holds the lock's offset in its block: the key's last "+N".
    const std::string offset = how == 'A' ? "+" + key.substr(key.rfind('+') + 1) : "";
    if (how == 0 || !c.contains("level") || !c["level"].is_number_integer()) {
      ++unresolved;
      continue;
    }
    const int level = c["level"].get<int>();
    if (level < 0 || level > 0x7fff) fail("class '" + key + "': level " + std::to_string(level) + " is out of range");
    const json site = c.value("site", json::object());
    // The identities: the site the trace recorded, and any a person added under "raw".
    std::vector<json> raws;
    if (site.contains("object") && site.contains("pc")) raws.push_back(site);
    for (const json& r : c.value("raw", json::array())) raws.push_back(r);
    if (raws.empty()) ++unresolved;
    for (const json& r : raws) {
      out += std::string(1, how) + "\t" + clean(r.value("pc", "0")) + offset + "\t" + std::to_string(level) + "\t" +
             (c.value("same_class_nesting", false) ? "1" : "0") + "\t" + clean(base_name(r.value("object", ""))) + "\t" +
             clean(c.value("name", key)) + "\t" + clean(key) + "\t" + clean(where_of(site)) + "\n";
      ++lines;
    }
    for (const json& a : c.value("aliases", json::array()))
      if (args.verbose) std::fprintf(stderr, "smplock enforce: alias '%s' of '%s' has no raw identity: add it under \"raw\"\n",
                                     a.get<std::string>().c_str(), key.c_str());
  }
  if (args.verbose)
    std::fprintf(stderr, "smplock enforce: %zu class identities from '%s'%s\n", lines, args.levels.c_str(),
                 unresolved != 0 ? (", " + std::to_string(unresolved) + " classes without one").c_str() : "");
  return out;
}

// Runs the program under the interposer in enforce mode (and recording, with -o); returns its wait
// status.
int run_program(const std::vector<std::string>& command, const EnforceArgs& args, const std::string& tab,
                const std::string& frames, const std::string& out, const std::string& list) {
  const std::string library = launch::find_interposer(kWho);
  return launch::run_preloaded(kWho, library, command, [&] {
    setenv("SMPLOCK_ENFORCE", tab.c_str(), 1);
    setenv("SMPLOCK_ENFORCE_ROOT", std::to_string(getpid()).c_str(), 1);
    setenv("SMPLOCK_ENFORCE_FRAMES", frames.c_str(), 1);
    if (args.warn) setenv("SMPLOCK_ENFORCE_WARN", "1", 1);
    else unsetenv("SMPLOCK_ENFORCE_WARN");
    if (!out.empty()) {
      setenv("SMPLOCK_RECORD_OUT", out.c_str(), 1);
      setenv("SMPLOCK_RECORD_LIST", list.c_str(), 1);
      setenv("SMPLOCK_RECORD_ROOT", std::to_string(getpid()).c_str(), 1);
    } else {
      unsetenv("SMPLOCK_RECORD_OUT");  // enforce only: no edges, no trace
    }
  });
}

void finish_traces(const std::string& list, const EnforceArgs& args) {
  record::FinishOptions options;
  options.wrappers = args.wrappers;
  std::set<std::string> seen;
  std::ifstream in(list);
  std::string line;
  while (std::getline(in, line)) {
    // A name an exec took is taken back when the exec fails (the image writes its usual one at exit).
    std::error_code ec;
    if (line.empty() || !seen.insert(line).second || !std::filesystem::exists(line, ec)) continue;
    try {
      record::finish_trace(line, options);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "smplock enforce: %s\n", e.what());
    }
  }
  std::remove(list.c_str());
}

// The frames of each report the program wrote (raw: object, address), named with debug info now
// that the program has ended: the places in its own code, which the report inside could not name.
void name_reports(const std::string& frames) {
  std::ifstream in(frames);
  if (!in) return;
  struct Line {
    char kind;
    std::string text;
  };
  std::vector<Line> lines;
  std::vector<std::pair<std::string, std::uint64_t>> at;
  std::vector<std::size_t> at_line;
  std::string line;
  while (std::getline(in, line)) {
    const auto t1 = line.find('\t');
    if (line.size() < 2 || t1 != 1) continue;
    if (line[0] == 'R') {
      lines.push_back({'R', line.substr(2)});
      continue;
    }
    const auto t2 = line.find('\t', 2);
    if (t2 == std::string::npos) continue;
    const std::string object = line.substr(2, t2 - 2);
    const std::string addr = line.substr(t2 + 1);
    lines.push_back({line[0], base_name(object) + "+" + addr});
    at.emplace_back(object, std::stoull(addr, nullptr, 16));
    at_line.push_back(lines.size() - 1);
  }
  std::remove(frames.c_str());
  if (lines.empty()) return;
  const std::vector<std::string> names = record::name_code(at);
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!names[i].empty() && names[i].rfind("0x", 0) != 0) lines[at_line[i]].text = names[i] + "  [" + lines[at_line[i]].text + "]";
  std::string text;
  int frame = 0;
  for (const Line& l : lines) {
    if (l.kind == 'R') {
      text += "smplock enforce: the " + l.text + " report's places, named:\n  this acquisition:\n";
      frame = 0;
    } else if (l.kind == 'A') {
      text += "    #" + std::to_string(frame++) + " " + l.text + "\n";
    } else {
      text += "  the held lock was taken at:\n    #0 " + l.text + "\n";
    }
  }
  std::fputs(text.c_str(), stderr);
}

void run(const EnforceArgs& args, const std::vector<std::string>& rest) {
  if (rest.empty()) fail("no program to run (smplock enforce --levels TABLE.json [--warn] [-o TRACE] [--] PROGRAM [ARGS...])");
  json table;
  {
    std::ifstream in(args.levels, std::ios::binary);
    if (!in) fail("cannot read '" + args.levels + "'");
    try {
      table = json::parse(in);
    } catch (const json::exception& e) {
      fail("'" + args.levels + "' is not JSON: " + e.what());
    }
  }
  const std::string text = interposer_table(table, args);
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tab = std::string(tmpdir != nullptr && *tmpdir != 0 ? tmpdir : "/tmp") + "/smplock-enforce-XXXXXX";
  const int fd = mkstemp(tab.data());
  if (fd < 0) fail("cannot write the interposer's table in " + tab + ": " + std::strerror(errno));
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written) fail("cannot write " + tab);
  std::string out, list;
  if (!args.out.empty()) {
    std::error_code ec;
    out = std::filesystem::absolute(args.out, ec).string();
    list = out + ".list";
    std::remove(list.c_str());
  }
  const std::string frames = tab + ".frames";
  const int status = run_program(rest, args, tab, frames, out, list);
  std::remove(tab.c_str());
  name_reports(frames);
  if (!out.empty()) finish_traces(list, args);
  launch::pass_on(status);
}

}  // namespace

CLI::App* add_enforce(CLI::App& app) {
  auto* cmd = app.add_subcommand("enforce", "Run a program with every pthread lock acquisition checked against a "
                                            "level table (from levels --infer --table): a violation aborts");
  auto args = std::make_shared<EnforceArgs>();
  cmd->add_option("--levels", args->levels, "The level table (JSON, schema smplock-levels)")->required();
  cmd->add_flag("--warn", args->warn, "Report each distinct violation once and carry on; a summary and the "
                                      "classes the table does not know at exit");
  cmd->add_option("-o,--output", args->out, "Record the run too, as smplock record -o FILE does");
  cmd->add_option("--wrapper", args->wrappers, "With -o: the program's own lock wrappers (as smplock record)");
  cmd->add_flag("-v,--verbose", args->verbose, "Say what was taken from the table (on stderr)");
  launch::take_program(cmd, [args](const std::vector<std::string>& program) { run(*args, program); });
  return cmd;
}

}  // namespace smplock::tools
