// bench/park_bench.cpp: the park protocol under a crowd (issue 11, defect 12). N threads (16 by
// default) on one lock for S seconds, ours against std::mutex: throughput, how often a waiter
// slept, how many sleeps ended by a time limit, and the tail of the waits.
//
// Each thread loops: take the lock, bump a counter and spin a little inside, let go, spin a little
// outside. Every acquisition's wait (clock before lock(), clock after) goes into the thread's own
// log2 histogram, so the tail is exact to a factor of 2 and costs no allocation. Ours's sleeps come
// from the statistics (`parks`); its sleeps have no time limit, so none can end by one (the column
// says so rather than printing a zero nobody measured). std::mutex's sleeps are the kernel's
// business and not counted.
//
//   bench_park [--threads=N] [--seconds=S] [--lock=ours|mutex|both]
//
// bench/results/locks.md has a run, with the command and the machine.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "smplock/smplock.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBuckets = 40;  // bucket b: waits in [2^(b-1), 2^b) ns; bucket 0: 0 ns

struct alignas(64) PerThread {
  std::uint64_t ops = 0;
  std::uint64_t hist[kBuckets] = {};
  std::uint64_t max_ns = 0;
  std::uint64_t over_1ms = 0, over_10ms = 0;
};

int bucket(std::uint64_t ns) {
  const int b = ns == 0 ? 0 : 64 - __builtin_clzll(ns);
  return std::min(b, kBuckets - 1);
}

void spin(unsigned n) {
  for (unsigned i = 0; i < n; ++i) asm volatile("" ::: "memory");
}

struct Result {
  std::uint64_t ops = 0;
  std::uint64_t hist[kBuckets] = {};
  std::uint64_t max_ns = 0;
  std::uint64_t over_1ms = 0, over_10ms = 0;
  double seconds = 0;
};

template <class LockFn, class UnlockFn>
Result run(unsigned threads, double seconds, LockFn lock, UnlockFn unlock) {
  std::vector<PerThread> per(threads);
  std::atomic<bool> go{false}, stop{false};
  std::uint64_t counter = 0;  // guarded by the lock
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      PerThread& me = per[t];
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed)) {
        const auto t0 = Clock::now();
        lock();
        const auto t1 = Clock::now();
        ++counter;
        spin(50);
        unlock();
        const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        ++me.hist[bucket(ns)];
        me.max_ns = std::max(me.max_ns, ns);
        me.over_1ms += ns > 1'000'000;
        me.over_10ms += ns > 10'000'000;
        ++me.ops;
        spin(200);
      }
    });
  const auto start = Clock::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (std::thread& t : ts) t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (const PerThread& p : per) {
    r.ops += p.ops;
    for (int b = 0; b < kBuckets; ++b) r.hist[b] += p.hist[b];
    r.max_ns = std::max(r.max_ns, p.max_ns);
    r.over_1ms += p.over_1ms;
    r.over_10ms += p.over_10ms;
  }
  if (counter != r.ops) {
    std::fprintf(stderr, "lost updates: counter %llu, operations %llu\n", static_cast<unsigned long long>(counter),
                 static_cast<unsigned long long>(r.ops));
    std::exit(1);
  }
  return r;
}

// The upper bound of the bucket holding quantile q, in ns.
std::uint64_t quantile(const Result& r, double q) {
  const auto want = static_cast<std::uint64_t>(q * static_cast<double>(r.ops));
  std::uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += r.hist[b];
    if (seen > want) return b == 0 ? 0 : (std::uint64_t{1} << b);
  }
  return r.max_ns;
}

std::string us(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ns) / 1000.0);
  return buf;
}

void print_row(const char* name, const Result& r, const std::string& sleeps, const std::string& timeouts) {
  std::printf("| %s | %.2f | %s | %s | %s | %s | %s | %s | %llu | %llu |\n", name,
              static_cast<double>(r.ops) / r.seconds / 1e6, sleeps.c_str(), timeouts.c_str(),
              us(quantile(r, 0.5)).c_str(), us(quantile(r, 0.99)).c_str(), us(quantile(r, 0.999)).c_str(),
              us(r.max_ns).c_str(), static_cast<unsigned long long>(r.over_1ms),
              static_cast<unsigned long long>(r.over_10ms));
}

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 16;
  double seconds = 5;
  std::string which = "both";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) threads = static_cast<unsigned>(std::atoi(argv[i] + 10));
    else if (std::strncmp(argv[i], "--seconds=", 10) == 0) seconds = std::atof(argv[i] + 10);
    else if (std::strncmp(argv[i], "--lock=", 7) == 0) which = argv[i] + 7;
    else {
      std::fprintf(stderr, "usage: bench_park [--threads=N] [--seconds=S] [--lock=ours|mutex|both]\n");
      return 2;
    }
  }
  if (threads == 0 || seconds <= 0 || (which != "ours" && which != "mutex" && which != "both")) {
    std::fprintf(stderr, "bench_park: bad arguments\n");
    return 2;
  }
  std::printf("%u threads on one lock, %.1f s each; waits in us (upper bound of a power-of-2 bucket, max exact)\n\n",
              threads, seconds);
  std::printf("| lock | Mops/s | sleeps per 1k ops | sleeps ended by time limit | wait p50 | p99 | p99.9 | max |"
              " waits > 1 ms | waits > 10 ms |\n|---|---|---|---|---|---|---|---|---|---|\n");
  if (which != "mutex") {
    static smplock::Lock lock(smplock::Level::PS, "bench-park");
    const Result r = run(threads, seconds, [] { lock.lock(); }, [] { lock.unlock(); });
    std::uint64_t parks = 0;
    for (const smplock::stats::ClassStats& c : smplock::stats::snapshot().classes)
      if (c.name == "bench-park") parks = c.counters.parks;
    char sleeps[32];
    std::snprintf(sleeps, sizeof sleeps, "%.2f", 1000.0 * static_cast<double>(parks) / static_cast<double>(r.ops));
    print_row("smplock::Lock", r, sleeps, "none (no time limit)");
  }
  if (which != "ours") {
    static std::mutex m;
    const Result r = run(threads, seconds, [] { m.lock(); }, [] { m.unlock(); });
    print_row("std::mutex", r, "-", "none (no time limit)");
  }
  return 0;
}
