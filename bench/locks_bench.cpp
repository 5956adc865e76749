// bench/locks_bench.cpp: ours beside every peer, one Google Benchmark program, every scenario.
//
//   uncontended/<lock>         one thread, acquire+release pairs (time per pair)
//   chain1/<lock>              one thread, 4 locks nested (ours at rising levels), then released
//   short/<lock>/threads:N     N threads (1, 2, 4, 8) on one lock around a counter increment
//   long/<lock>/threads:N      the same around ~1 us of work
//   chain4/<lock>/threads:2    2 threads contending on the 4-lock chain
//   handoff/<lock>             two threads pass the lock back and forth (hand-off latency)
//
// The threaded cells run for a fixed time (--run_ms, default 200) per repetition, so a lock that
// collapses is measured, not waited for. Each reports items_per_second (critical sections per
// second), fairness (fewest/most operations of one thread), and latency percentiles and maximum:
// the sampled wait for the lock (short/long/chain4) or the hand-off delay (handoff). A cell whose protected
// counter disagrees with the operations counted fails with "lost updates".
//
// Built three times: bench_locks (every lock; absl::Mutex as Debian ships it, deadlock detection
// on), bench_locks_absl_nodd (absl::Mutex only, with detection turned off for the whole process: the
// switch is process-wide, so it cannot share a program with the detecting row), and
// bench_locks_nocounters (ours only, linked against the library built without statistics).
//
// Extra flags: --run_ms=N (time per threaded cell), --pin=0|1 (pin worker i to CPU i mod n; default
// 1). The rest are Google Benchmark's.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "harness/adapters.hpp"
#include "harness/workload.hpp"

namespace smplock::bench {
namespace {

std::chrono::milliseconds g_run{200};

#if defined(SMPLOCK_BENCH_ABSL_NODD)
using BenchLocks = LockList<AbslNoDeadlockLock>;
#elif defined(SMPLOCK_BENCH_NOCOUNTERS)
// Ours linked against the library built with SMPLOCK_NO_COUNTERS: the statistics' cost, by difference.
class OursNoCountersLock : public OursLock {
 public:
  static constexpr const char* kName = "ours_nocounters";
  using OursLock::OursLock;
};
using BenchLocks = LockList<OursNoCountersLock>;
#else
using BenchLocks = AllLocks;
#endif

template <class L>
void bm_uncontended(benchmark::State& state) {
  L lock(0);
  typename L::Node node{};
  begin_run<L>();
  for (auto _ : state) {
    lock.lock(node);
    benchmark::ClobberMemory();
    lock.unlock(node);
  }
  end_run<L>();
  state.SetItemsProcessed(state.iterations());
}

template <class L>
void bm_chain1(benchmark::State& state) {
  L a(0), b(1), c(2), d(3);
  typename L::Node na{}, nb{}, nc{}, nd{};
  begin_run<L>();
  for (auto _ : state) {
    a.lock(na);
    b.lock(nb);
    c.lock(nc);
    d.lock(nd);
    benchmark::ClobberMemory();
    d.unlock(nd);
    c.unlock(nc);
    b.unlock(nb);
    a.unlock(na);
  }
  end_run<L>();
  state.SetItemsProcessed(state.iterations());
}

void report(benchmark::State& state, const RunResult& r, unsigned threads) {
  state.SetIterationTime(r.seconds);
  state.SetItemsProcessed(static_cast<std::int64_t>(r.total_ops));
  state.counters["threads"] = threads;
  state.counters["min_ops"] = static_cast<double>(r.min_ops);
  state.counters["max_ops"] = static_cast<double>(r.max_ops);
  state.counters["fairness"] = r.max_ops ? static_cast<double>(r.min_ops) / static_cast<double>(r.max_ops) : 0;
  state.counters["p50_ns"] = r.latency.p50;
  state.counters["p90_ns"] = r.latency.p90;
  state.counters["p99_ns"] = r.latency.p99;
  // The longest sampled wait (1 acquisition in 128 is timed): where a lock's pass-over shows, since
  // fairness counts operations, not how long the unluckiest waiter waited.
  state.counters["max_wait_ns"] = r.latency.max;
  if (!r.exact())
    state.SkipWithError(("lost updates: counter " + std::to_string(r.counter) + ", inner " + std::to_string(r.inner) +
                         ", operations " + std::to_string(r.total_ops))
                            .c_str());
}

template <class L>
void bm_contended(benchmark::State& state, unsigned threads, unsigned chain, Section section) {
  for (auto _ : state) {
    begin_run<L>();
    const RunResult r = run_contended<L>(threads, chain, section, g_run);
    end_run<L>();
    report(state, r, threads);
  }
}

template <class L>
void bm_handoff(benchmark::State& state) {
  for (auto _ : state) {
    begin_run<L>();
    const RunResult r = run_pingpong<L>(g_run);
    end_run<L>();
    report(state, r, 2);
  }
}

// Min and max beside Google Benchmark's mean/median/stddev.
benchmark::internal::Benchmark* with_stats(benchmark::internal::Benchmark* b) {
  return b
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); })
      ->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

// Registration is scenario-major (every lock for one cell, then the next cell), so the peers of one
// cell run close together in time; scripts/bench.sh also interleaves the repetitions at random.
const auto timed = [](benchmark::internal::Benchmark* b) {
  with_stats(b->Iterations(1)->UseManualTime()->Unit(benchmark::kMillisecond));
};

template <class... Ls>
void register_all(LockList<Ls...>) {
  const auto name = [](const char* scenario, const char* lock, const std::string& rest = "") {
    return std::string(scenario) + "/" + lock + rest;
  };
  (with_stats(benchmark::RegisterBenchmark(name("uncontended", Ls::kName).c_str(), bm_uncontended<Ls>)), ...);
  (with_stats(benchmark::RegisterBenchmark(name("chain1", Ls::kName).c_str(), bm_chain1<Ls>)), ...);
  for (const Section section : {Section::Short, Section::Long})
    for (unsigned t : {1u, 2u, 4u, 8u})
      (timed(benchmark::RegisterBenchmark(
           name(section == Section::Short ? "short" : "long", Ls::kName, "/threads:" + std::to_string(t)).c_str(),
           [t, section](benchmark::State& s) { bm_contended<Ls>(s, t, 1, section); })),
       ...);
  (timed(benchmark::RegisterBenchmark(name("chain4", Ls::kName, "/threads:2").c_str(),
                                      [](benchmark::State& s) { bm_contended<Ls>(s, 2, 4, Section::Short); })),
   ...);
  (timed(benchmark::RegisterBenchmark(name("handoff", Ls::kName).c_str(), bm_handoff<Ls>)), ...);
}

}  // namespace
}  // namespace smplock::bench

int main(int argc, char** argv) {
  using namespace smplock::bench;
  // Take out our own flag before Google Benchmark sees the rest.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--run_ms=", 9) == 0)
      g_run = std::chrono::milliseconds(std::max(1, std::atoi(argv[i] + 9)));
    else if (std::strncmp(argv[i], "--pin=", 6) == 0)
      set_pinning(std::atoi(argv[i] + 6) != 0);
    else
      argv[kept++] = argv[i];
  }
  argc = kept;
#if defined(SMPLOCK_BENCH_ABSL_NODD)
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::AddCustomContext("absl_deadlock_detection", "off");
#else
  benchmark::AddCustomContext("absl_deadlock_detection", "as built (Debian: on)");
#endif
  benchmark::AddCustomContext("run_ms", std::to_string(g_run.count()));
  benchmark::AddCustomContext("pinned", pinning().load() ? "worker i on allowed CPU i mod n" : "no");
  benchmark::AddCustomContext("work_steps_per_us", std::to_string(steps_per_us()));
  register_all(BenchLocks{});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
