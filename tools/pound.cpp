// `smplock pound`: the kernel-like workload under the giant, coarse and ozone lock sets, with
// throughput, the contention report of each, and a comparison. --json saves it all.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "args.hpp"
#include "commands.hpp"
#include "smplock/pound.hpp"
#include "smplock/report.hpp"

namespace smplock::tools {
namespace {

struct PoundArgs {
  unsigned cpus = 0;
  double seconds = 3.0;
  std::string locks = "all";
  std::string json;
  std::uint64_t seed = 1;
  bool quiet_report = false;
};

const char* set_summary(pound::LockSetKind k) {
  switch (k) {
    case pound::LockSetKind::Giant: return "one lock for everything";
    case pound::LockSetKind::Coarse: return "the seed's first short list: one thread-state lock, PM over the cache, NP on every allocation";
    case pound::LockSetKind::Ozone: return "the final table: per-object locks, the pool lock-free in the common case";
  }
  return "";
}

std::string rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f} M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f} k", per_second / 1e3);
  return fmt::format("{:.0f} ", per_second);
}

// What the comparison shows of one set.
struct Summary {
  std::string top_lock;
  double top_percent = 0;
  double total_percent = 0;
  unsigned over_budget = 0;
};

Summary summarize(const pound::Result& r) {
  Summary s;
  const stats::Analysis a = stats::analyze(r.snapshot);
  s.total_percent = a.total_percent;
  s.over_budget = static_cast<unsigned>(a.split.size());
  if (!a.classes.empty() && a.classes.front().cls != nullptr) {
    const stats::ClassStats& c = *a.classes.front().cls;
    const auto level = level_name(c.level);
    s.top_lock = fmt::format("{} ({})", c.name, std::string_view(level));
    s.top_percent = a.classes.front().contention_percent;
  }
  return s;
}

void print_result(const pound::Result& r, bool with_report) {
  std::printf("\n== %s: %s ==\n", std::string(pound::lock_set_name(r.locks)).c_str(), set_summary(r.locks));
  std::printf("throughput: %sops/s (%llu operations in %.2f s on %u CPUs; the CPU threads ran %.0f%% of the time)\n",
              rate(r.ops_per_second()).c_str(), static_cast<unsigned long long>(r.total_ops()), r.seconds, r.cpus,
              100.0 * r.cpu_share);
  if (r.cpu_share < 0.9)
    std::printf("warning: other programs had the processors part of the time, so the CPU threads did not always "
                "run at once;\n         contention and the differences between lock sets are understated "
                "(docs/pound.md)\n");
  std::printf("  %-18s %12s %10s\n", "path", "ops/s", "share");
  for (unsigned i = 0; i < pound::kPaths; ++i) {
    const double per = r.seconds > 0 ? static_cast<double>(r.ops[i]) / r.seconds : 0;
    const double share = r.total_ops() ? 100.0 * static_cast<double>(r.ops[i]) / static_cast<double>(r.total_ops()) : 0;
    std::printf("  %-18s %12s %9.1f%%\n", std::string(pound::path_name(static_cast<pound::Path>(i))).c_str(),
                rate(per).c_str(), share);
  }
  std::printf("kernel: %s thread switches, %s waits on event flags, %s timer ticks, %s lowipl routines, "
              "%s disk reads, %s packets, %s calls found nothing to do\n",
              stats::format_count(r.thread_switches).c_str(), stats::format_count(r.waits).c_str(),
              stats::format_count(r.timer_ticks).c_str(), stats::format_count(r.lowipl_calls).c_str(),
              stats::format_count(r.disk_irps).c_str(), stats::format_count(r.packets).c_str(),
              stats::format_count(r.again).c_str());
  std::printf("pool: %s: %s allocations, %s frees, lock taken %s times (%.2f%% of calls)\n", r.pool.kind.c_str(),
              stats::format_count(r.pool.mallocs).c_str(), stats::format_count(r.pool.frees).c_str(),
              stats::format_count(r.pool.lock_acquisitions).c_str(),
              r.pool.mallocs + r.pool.frees
                  ? 100.0 * static_cast<double>(r.pool.lock_acquisitions) / static_cast<double>(r.pool.mallocs + r.pool.frees)
                  : 0.0);
  if (r.failures.empty()) {
    std::printf("checks: all %zu invariants hold (packets, blocks, pages, quota, threads, ids, timer)\n",
                r.checks.size());
  } else {
    std::printf("checks: %zu of %zu invariants FAILED:\n", r.failures.size(), r.checks.size());
    for (const auto& f : r.failures) std::printf("  FAILED %s\n", f.c_str());
  }
  if (with_report) {
    std::printf("\n");
    std::fflush(stdout);
    stats::report_text(r.snapshot, stdout);
  }
  std::fflush(stdout);
}

void print_comparison(const std::vector<pound::Result>& results) {
  if (results.size() < 2) return;
  std::printf("\n== comparison (%u CPUs, contention in %% of CPU time, budget %.0f%% per lock) ==\n",
              results.front().cpus, stats::kBudgetPercent);
  std::printf("%-8s %12s %9s %10s  %-14s %8s %12s\n", "locks", "ops/s", "vs giant", "contention", "top lock",
              "its %", "over budget");
  double giant = 0;
  for (const auto& r : results)
    if (r.locks == pound::LockSetKind::Giant) giant = r.ops_per_second();
  for (const auto& r : results) {
    const Summary s = summarize(r);
    const std::string vs = giant > 0 ? fmt::format("{:.2f}x", r.ops_per_second() / giant) : "-";
    std::printf("%-8s %12s %9s %9.2f%%  %-14s %7.2f%% %12u\n", std::string(pound::lock_set_name(r.locks)).c_str(),
                rate(r.ops_per_second()).c_str(), vs.c_str(), s.total_percent, s.top_lock.c_str(), s.top_percent,
                s.over_budget);
  }
}

nlohmann::json result_json(const pound::Result& r) {
  nlohmann::json j;
  j["locks"] = std::string(pound::lock_set_name(r.locks));
  j["cpus"] = r.cpus;
  j["seconds"] = r.seconds;
  j["ops_total"] = r.total_ops();
  j["ops_per_second"] = r.ops_per_second();
  j["cpu_share"] = r.cpu_share;
  nlohmann::json paths = nlohmann::json::object();
  for (unsigned i = 0; i < pound::kPaths; ++i) paths[std::string(pound::path_name(static_cast<pound::Path>(i)))] = r.ops[i];
  j["ops"] = paths;
  j["kernel"] = {{"thread_switches", r.thread_switches}, {"waits", r.waits},       {"timer_ticks", r.timer_ticks},
                 {"lowipl_calls", r.lowipl_calls},       {"disk_reads", r.disk_irps}, {"packets", r.packets},
                 {"again", r.again},                     {"denied", r.denied}};
  j["pool"] = {{"kind", r.pool.kind},
               {"mallocs", r.pool.mallocs},
               {"frees", r.pool.frees},
               {"lock_acquisitions", r.pool.lock_acquisitions},
               {"fast_hit_rate", r.pool.fast_hit_rate}};
  j["checks"] = r.checks;
  j["failures"] = r.failures;
  nlohmann::json table = nlohmann::json::array();
  for (const pound::RoleLock& row : pound::lock_set(r.locks))
    table.push_back({{"role", std::string(pound::role_name(row.role))},
                     {"level", to_int(row.level)},
                     {"lock", row.granularity == pound::Granularity::LockFree ? "" : row.name},
                     {"granularity", row.granularity == pound::Granularity::One         ? "one"
                                     : row.granularity == pound::Granularity::PerObject ? "per object"
                                                                                        : "lock-free"}});
  j["lock_set"] = table;
  j["stats"] = nlohmann::json::parse(stats::to_json(r.snapshot));
  return j;
}

[[noreturn]] void cannot_write(const std::string& path, const char* why) {
  std::fprintf(stderr, "smplock pound: cannot write '%s': %s\n", path.c_str(), why);
  std::exit(2);
}

// Whether the --json file can be written, found before the runs without touching what it holds: an
// existing file keeps its contents until the new results replace it, and a file made only to find
// out is removed again.
void check_writable(const std::string& path) {
  struct stat st {};
  const bool existed = ::stat(path.c_str(), &st) == 0;
  if (existed && S_ISDIR(st.st_mode)) cannot_write(path, "is a directory");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) cannot_write(path, std::strerror(errno));
  ::close(fd);
  if (!existed) ::unlink(path.c_str());
}

// Writes the results beside the file and renames them over it, so a failed write leaves the old
// file whole; a symbolic link, or a directory that takes no new file, gets the file written in place.
void save(const std::string& path, const std::string& text) {
  struct stat st {};
  const bool link = ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  std::ofstream out;
  if (!link) out.open(tmp, std::ios::binary);
  if (out.is_open()) {
    out << text;
    out.close();
    if (out && std::rename(tmp.c_str(), path.c_str()) == 0) return;
    const int err = errno;
    std::remove(tmp.c_str());
    cannot_write(path, out ? std::strerror(err) : "write failed");
  }
  std::ofstream direct(path, std::ios::binary | std::ios::trunc);
  direct << text;
  direct.close();
  if (!direct) cannot_write(path, std::strerror(errno));
}

void run(const PoundArgs& args) {
  pound::Config config;
  config.cpus = args.cpus != 0 ? args.cpus : std::max(1u, std::thread::hardware_concurrency());
  config.seconds = args.seconds;
  config.seed = args.seed;
  std::vector<pound::LockSetKind> sets;
  if (args.locks == "all")
    sets.assign(pound::kLockSets.begin(), pound::kLockSets.end());
  else
    sets.push_back(*pound::parse_lock_set(args.locks));

  if (!args.json.empty()) check_writable(args.json);  // find out now, not after the runs
  const std::string model = pound::cpu_model();
  const std::string secs = seconds_text(config.seconds);
  std::printf("smplock pound: %u CPUs, %s s per lock set, lock sets:", config.cpus, secs.c_str());
  for (auto k : sets) std::printf(" %s", std::string(pound::lock_set_name(k)).c_str());
  std::printf("\nmachine: %s, %u processors online; seed %llu\n", model.c_str(), std::thread::hardware_concurrency(),
              static_cast<unsigned long long>(config.seed));
  std::fflush(stdout);

  const bool tty = isatty(STDERR_FILENO) != 0;
  std::vector<pound::Result> results;
  bool failed = false;
  for (auto k : sets) {
    config.locks = k;
    const std::string name(pound::lock_set_name(k));
    pound::Progress progress;
    if (tty)
      progress = [&](double done, std::uint64_t ops) {
        std::fprintf(stderr, "\r  running %-6s %4.1f / %s s  %sops/s   ", name.c_str(), done, secs.c_str(),
                     rate(done > 0 ? static_cast<double>(ops) / done : 0).c_str());
      };
    else
      std::fprintf(stderr, "running %s for %s s...\n", name.c_str(), secs.c_str());
    pound::Result r;
    try {
      r = pound::run(config, progress);
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "smplock pound: %s\n", e.what());
      std::exit(2);
    }
    if (tty) std::fprintf(stderr, "\r%60s\r", "");
    stats::symbolize(r.snapshot);  // name the call sites while this process's symbols are at hand
    print_result(r, !args.quiet_report);
    failed |= !r.failures.empty();
    results.push_back(std::move(r));
  }
  print_comparison(results);

  if (!args.json.empty()) {
    nlohmann::json doc;
    doc["schema"] = "smplock-pound";
    doc["version"] = 1;
    doc["machine"] = {{"cpu_model", model}, {"processors", std::thread::hardware_concurrency()}};
    doc["cpus"] = config.cpus;
    doc["seconds_per_set"] = config.seconds;
    doc["seed"] = config.seed;
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : results) arr.push_back(result_json(r));
    doc["sets"] = arr;
    save(args.json, doc.dump(2) + '\n');
    std::printf("\nsaved to %s (read it back with: smplock report %s)\n", args.json.c_str(), args.json.c_str());
  }
  if (failed) {
    std::fprintf(stderr, "smplock pound: invariants failed (see above)\n");
    std::exit(1);
  }
}

}  // namespace

CLI::App* add_pound(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "pound", "Run a kernel-like workload under the giant, coarse and ozone lock sets and compare them");
  auto args = std::make_shared<PoundArgs>();
  cmd->add_option("--cpus", args->cpus, "CPU threads, 1 to 254 (default: every core)")
      ->check(whole_number(1, 254, "a whole number of CPUs"));
  cmd->add_option("--seconds", args->seconds, "Seconds per lock set, 0.01 to 600")
      ->check(number_in(0.01, 600, false, "a number of seconds"))
      ->capture_default_str();
  cmd->add_option("--locks", args->locks, "Lock set to run")
      ->check(CLI::IsMember({"giant", "coarse", "ozone", "all"}))
      ->capture_default_str();
  cmd->add_option("--json", args->json, "Save throughput, checks and every set's statistics to this JSON file")
      ->check(file_name());
  cmd->add_option("--seed", args->seed, "Seed of the simulated threads' choices, 0 to 2^64-1")
      ->check(whole_number(0, UINT64_MAX))
      ->capture_default_str();
  cmd->add_flag("--no-report", args->quiet_report, "Leave out the per-set contention tables");
  cmd->callback([args] { run(*args); });
  return cmd;
}

}  // namespace smplock::tools
