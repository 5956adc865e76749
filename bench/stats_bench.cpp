// bench/stats_bench.cpp: what the statistics cost. Built twice from this one file:
//   bench_stats      the library as shipped (counters on, hold timing off)
//   bench_stats_off  the library and this program rebuilt with SMPLOCK_NO_COUNTERS: no per-CPU
//                    counter, no nesting samples, no contended-path accounting, no waiter count
// Run both in one session (scripts: bench/results/stats.md gives the command) and compare:
//   stats/uncontended          one thread, acquire+release of one lock (time per pair)
//   stats/nested2              one thread, two locks nested then released (time per pair of pairs)
//   stats/short/threads:N      N threads (2, 8) on one lock around a counter increment
//                              (items_per_second: critical sections per second, all threads)
//   stats/long/threads:N       the same around ~100 ns of work inside the lock
#include <benchmark/benchmark.h>

#include <cstdint>

#include "smplock/smplock.hpp"

namespace smplock::bench {
namespace {

#ifdef SMPLOCK_NO_COUNTERS
constexpr const char* kBuild = "counters off";
#else
constexpr const char* kBuild = "counters on";
#endif

constinit Lock g_lock{Level::PS, "bench-stats"};
constinit Lock g_outer{Level::PM, "bench-stats-outer"};
std::uint64_t g_counter = 0;  // protected by g_lock

void bm_uncontended(benchmark::State& state) {
  Lock l(Level::PS, "bench-stats-uncontended");
  for (auto _ : state) {
    const Level prev = l.acquire();
    benchmark::ClobberMemory();
    l.release(prev);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kBuild);
}

void bm_nested2(benchmark::State& state) {
  Lock outer(Level::PM, "bench-stats-n-outer"), inner(Level::PS, "bench-stats-n-inner");
  for (auto _ : state) {
    const Level a = outer.acquire();
    const Level b = inner.acquire();
    benchmark::ClobberMemory();
    inner.release(b);
    outer.release(a);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kBuild);
}

template <int kWork>
void bm_threads(benchmark::State& state) {
  for (auto _ : state) {
    const Level prev = g_lock.acquire();
    ++g_counter;
    for (int i = 0; i < kWork; ++i) benchmark::DoNotOptimize(g_counter);
    g_lock.release(prev);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(kBuild);
}

BENCHMARK(bm_uncontended)->Name("stats/uncontended");
BENCHMARK(bm_nested2)->Name("stats/nested2");
BENCHMARK(bm_threads<0>)->Name("stats/short")->Threads(2)->Threads(8)->UseRealTime();
BENCHMARK(bm_threads<100>)->Name("stats/long")->Threads(2)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace smplock::bench

BENCHMARK_MAIN();
