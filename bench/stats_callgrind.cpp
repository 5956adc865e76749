// bench/stats_callgrind.cpp: N uncontended acquire+release pairs of one lock (optionally nested
// inside a second one), for exact instruction counts under valgrind --tool=callgrind. Built twice,
// like bench_stats: bench_stats_callgrind (counters on) and bench_stats_callgrind_off.
//   valgrind --tool=callgrind bench/bench_stats_callgrind 1000000 [--nested]
// Subtract a run with N=0 and divide by N for instructions per pair.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "smplock/smplock.hpp"

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const bool nested = argc > 2 && std::strcmp(argv[2], "--nested") == 0;
  smplock::Lock outer(smplock::Level::PM, "callgrind-outer");
  smplock::Lock l(smplock::Level::PS, "callgrind");
  const smplock::Level base = nested ? outer.acquire() : smplock::Level::Null;
  for (long i = 0; i < n; ++i) {
    const smplock::Level prev = l.acquire();
    asm volatile("" ::: "memory");
    l.release(prev);
  }
  if (nested) outer.release(base);
  std::printf("%ld pairs\n", n);
  return 0;
}
