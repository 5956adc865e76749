// `smplock pound`: the seed's story, step by step: the kernel-like workload under each step's lock
// set (giant, coarse, pool, threads, ozone) in interleaved rounds, then the story table (the
// pound library's story_text), --verbose each step's report, --json everything, --svg the picture.
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
#include "smplock/pound_story.hpp"
#include "smplock/report.hpp"

namespace smplock::tools {
namespace {

struct PoundArgs {
  unsigned cpus = 0;
  double seconds = 2.0;  // per step, all its rounds together
  std::string locks = "all";
  std::string json;
  std::uint64_t seed = 1;
  bool quiet_report = false;
  bool verbose = false;          // each step's own report after the story
  unsigned rounds = 5;
  double user_ns = pound::kDefaultUserNs;
  std::string svg;
};

const char* set_summary(pound::LockSetKind k) {
  for (const pound::Step& s : pound::story())
    if (s.locks == k) return s.title;
  return "";
}

std::string rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f} M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f} k", per_second / 1e3);
  return fmt::format("{:.0f} ", per_second);
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

void run_story(const PoundArgs& args, pound::Config config, const std::vector<pound::LockSetKind>& sets);

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
  run_story(args, config, sets);
}

// The story: every step in interleaved rounds, the table, then what was asked for besides.
void run_story(const PoundArgs& args, pound::Config config, const std::vector<pound::LockSetKind>& sets) {
  const double per_step = config.seconds;
  config.seconds = per_step / args.rounds;
  config.user_ns = args.user_ns;
  {
    pound::Story head;
    head.cpus = config.cpus;
    head.rounds = args.rounds;
    head.seconds_per_round = config.seconds;
    head.user_ns = config.user_ns;
    head.cpu_model = pound::cpu_model();
    head.processors = std::thread::hardware_concurrency();
    head.seed = config.seed;
    head.steps.resize(sets.size());
    std::fputs(pound::story_header(head).c_str(), stdout);
    std::fflush(stdout);
  }
  const bool tty = isatty(STDERR_FILENO) != 0;
  pound::RoundProgress progress = [&](unsigned round, unsigned rounds, pound::LockSetKind k, double done,
                                      std::uint64_t ops) {
    if (!tty) return;
    std::fprintf(stderr, "\r  round %u/%u  %-8s %5.2f s  %sops/s      ", round + 1, rounds,
                 std::string(pound::lock_set_name(k)).c_str(), done,
                 rate(done > 0 ? static_cast<double>(ops) / done : 0).c_str());
  };
  if (!tty)
    std::fprintf(stderr, "running %zu step%s in %u rounds of %.3g s each...\n", sets.size(), sets.size() == 1 ? "" : "s",
                 args.rounds, config.seconds);
  std::vector<std::vector<pound::Result>> results;
  try {
    results = pound::run_rounds(config, sets, args.rounds, progress);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "smplock pound: %s\n", e.what());
    std::exit(2);
  }
  if (tty) std::fprintf(stderr, "\r%70s\r", "");
  const pound::Story story = pound::make_story(config, results);
  std::fputs(pound::story_text(story, /*header=*/false).c_str(), stdout);
  bool failed = false;
  for (const auto& rounds : results)
    for (const auto& r : rounds)
      if (!r.failures.empty()) {
        failed = true;
        std::printf("%s, a round: %zu invariants FAILED:\n", std::string(pound::lock_set_name(r.locks)).c_str(),
                    r.failures.size());
        for (const auto& f : r.failures) std::printf("  FAILED %s\n", f.c_str());
      }
  // Each step stands in the details by its median round.
  std::vector<pound::Result> median;
  for (auto& rounds : results) {
    pound::Result& r = rounds[pound::median_round(rounds)];
    stats::symbolize(r.snapshot);  // name the call sites while this process's symbols are at hand
    median.push_back(r);
  }
  if (args.verbose) {
    std::printf("\n-- each step's median round, in detail --\n");
    for (const auto& r : median) print_result(r, !args.quiet_report);
  }
  if (!args.svg.empty()) {
    std::ofstream out(args.svg, std::ios::binary | std::ios::trunc);
    out << pound::story_svg(story);
    out.close();
    if (!out) {
      std::fprintf(stderr, "smplock pound: cannot write '%s'\n", args.svg.c_str());
      std::exit(2);
    }
    std::printf("\npicture saved to %s\n", args.svg.c_str());
  }
  const std::string model = story.cpu_model;
  if (!args.json.empty()) {
    nlohmann::json doc;
    doc["schema"] = "smplock-pound";
    doc["version"] = 1;
    doc["machine"] = {{"cpu_model", model}, {"processors", std::thread::hardware_concurrency()}};
    doc["cpus"] = config.cpus;
    doc["seconds_per_set"] = per_step;
    doc["rounds"] = args.rounds;
    doc["seconds_per_round"] = config.seconds;
    doc["story"] = nlohmann::json::parse(pound::story_to_json(story));
    doc["seed"] = config.seed;
    nlohmann::json arr = nlohmann::json::array();
    for (std::size_t i = 0; i < median.size(); ++i) {
      const pound::Result& r = median[i];
      nlohmann::json j = result_json(r);
      j["median_of_rounds"] = results[i].size();
      j["run_delay_share"] = r.run_delay_share;
      j["involuntary_switches"] = r.involuntary_switches;
      j["user_ns"] = r.user_ns;
      nlohmann::json waits = nlohmann::json::array();
      for (const auto& w : r.waits_sampled)
        waits.push_back({{"lock", w.lock},
                         {"running", w.running},
                         {"preempted_holder", w.preempted_holder},
                         {"waiter_off_cpu", w.waiter_off_cpu}});
      j["waits_sampled"] = waits;
      nlohmann::json rounds = nlohmann::json::array();
      for (const auto& each : results[i]) rounds.push_back(each.ops_per_second());
      j["rounds_ops_per_second"] = rounds;
      arr.push_back(j);
    }
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
      "pound", "Tell the seed's story: a kernel-like workload under each step's lock set, giant to ozone");
  auto args = std::make_shared<PoundArgs>();
  cmd->add_option("--cpus", args->cpus, "CPU threads, 1 to 254 (default: every core)")
      ->check(whole_number(1, 254, "a whole number of CPUs"));
  cmd->add_option("--seconds", args->seconds, "Seconds per lock set, 0.01 to 600")
      ->check(number_in(0.01, 600, false, "a number of seconds"))
      ->capture_default_str();
  cmd->add_option("--locks", args->locks, "Lock set to run")
      ->check(CLI::IsMember({"giant", "coarse", "pool", "threads", "ozone", "all"}))
      ->capture_default_str();
  cmd->add_option("--json", args->json, "Save throughput, checks and every set's statistics to this JSON file")
      ->check(file_name());
  cmd->add_option("--seed", args->seed, "Seed of the simulated threads' choices, 0 to 2^64-1")
      ->check(whole_number(0, UINT64_MAX))
      ->capture_default_str();
  cmd->add_flag("--no-report", args->quiet_report, "With --verbose: leave out the per-step contention tables");
  cmd->add_flag("--verbose,-v", args->verbose, "After the story, each step's own figures and contention report");
  cmd->add_option("--rounds", args->rounds,
                  "Rounds the steps take turns in, 1 to 100 (each --seconds/rounds long; a step's figure: the median)")
      ->check(whole_number(1, 100, "a whole number of rounds"))
      ->capture_default_str();
  cmd->add_option("--user-ns", args->user_ns,
                  "User-mode time after each system call, in ns, 0 to 1000000 (0: a kernel-only load)")
      ->check(number_in(0, 1e6, false, "a number of nanoseconds"))
      ->capture_default_str();
  cmd->add_option("--svg", args->svg, "Draw the story to this SVG file")->check(file_name());
  cmd->callback([args] { run(*args); });
  return cmd;
}

}  // namespace smplock::tools
