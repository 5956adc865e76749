// bench/park_bench.cpp: the park protocol under a crowd (issue 11, defect 12). N threads (16 by
// default) on one lock for S seconds, ours against std::mutex: throughput, how often a waiter
// slept, how many sleeps ended by a time limit, the tail of the waits, how many other acquisitions
// passed one waiter over (the most of any wait), and the spread of operations between threads.
//
// Each thread loops: take the lock, bump a counter and spin a little inside, let go, spin a little
// outside. Every acquisition's wait (clock before lock(), clock after) goes into the thread's own
// log2 histogram, so the tail is exact to a factor of 2 and costs no allocation. Ours's sleeps come
// from the statistics (`parks`); its sleeps have a time limit only until the waiter has waited
// its hunger budget (it then marks itself hungry: src/lock.cpp), never as a cover for a lost
// wake-up, and are not counted apart (the column says so rather than printing a figure nobody
// measured). std::mutex's sleeps are the kernel's business and not counted.
//
// "Passed over": the section's counter read before lock() and again inside; the difference is the
// number of acquisitions by other threads while this one waited. It shows the bounded pass-over
// (smplock/lock.hpp) where the wait's time cannot: a wait's time includes the scheduler's delays
// (16 threads on 2 cores), a count of acquisitions does not grow while a handed-off lock waits for
// its hungry waiter to run. The counter is an atomic read with relaxed loads and written with a
// plain store under the lock, so reading it before lock() is no data race; both locks pay it.
//
// --unpreempted (a separate run: it costs two system calls an operation) reads the thread's
// run-queue delay (/proc/thread-self/schedstat: time runnable but not running) before lock() and
// after unlock(), and reports the most passed over and the longest wait among the waits in which
// the waiter spent under 1 ms waiting for a processor: the lock's own unfairness, mostly without
// the time the scheduler kept a runnable waiter off the processors. (Involuntary switches would
// not do: a yielding waiter's sched_yield counts as one.)
//
//   bench_park [--threads=N] [--seconds=S] [--lock=ours|mutex|both] [--hunger-us=U] [--unpreempted]
//
// --hunger-us sets the library's hunger budget (src/lock.cpp, g_hunger_budget_ns) for the run, to
// measure the trade it makes; "never" turns the hand-off off. A weak reference, so the program
// also builds against a library from before the budget existed (the option is then refused).
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

#include <fcntl.h>
#include <unistd.h>

#include "smplock/smplock.hpp"

namespace smplock::detail {
extern std::atomic<std::uint64_t> g_hunger_budget_ns __attribute__((weak));
}  // namespace smplock::detail

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kBuckets = 40;  // bucket b: waits in [2^(b-1), 2^b) ns; bucket 0: 0 ns

struct alignas(64) PerThread {
  std::uint64_t ops = 0;
  std::uint64_t hist[kBuckets] = {};
  std::uint64_t max_ns = 0;
  std::uint64_t over_1ms = 0, over_10ms = 0;
  std::uint64_t max_passed = 0;
  std::uint64_t unpreempted = 0, max_passed_unpreempted = 0, max_ns_unpreempted = 0;
};

bool g_unpreempted = false;  // --unpreempted

// This thread's run-queue delay so far, in ns (the second field of its schedstat); `fd` is the
// thread's own /proc/thread-self/schedstat, kept open.
std::uint64_t runqueue_ns(int fd) {
  char buf[128];
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  buf[n] = '\0';
  unsigned long long on_cpu = 0, delay = 0;
  if (std::sscanf(buf, "%llu %llu", &on_cpu, &delay) != 2) return 0;
  return delay;
}

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
  std::uint64_t max_passed = 0;
  std::uint64_t unpreempted = 0, max_passed_unpreempted = 0, max_ns_unpreempted = 0;
  double fairness = 0;  // fewest / most operations of one thread
  double seconds = 0;
};

template <class LockFn, class UnlockFn>
Result run(unsigned threads, double seconds, LockFn lock, UnlockFn unlock) {
  std::vector<PerThread> per(threads);
  std::atomic<bool> go{false}, stop{false};
  std::atomic<std::uint64_t> counter{0};  // written only under the lock
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      PerThread& me = per[t];
      const int schedstat = g_unpreempted ? open("/proc/thread-self/schedstat", O_RDONLY) : -1;
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t delayed = g_unpreempted ? runqueue_ns(schedstat) : 0;
        const std::uint64_t seen = counter.load(std::memory_order_relaxed);
        const auto t0 = Clock::now();
        lock();
        const auto t1 = Clock::now();
        const std::uint64_t c = counter.load(std::memory_order_relaxed);
        counter.store(c + 1, std::memory_order_relaxed);
        me.max_passed = std::max(me.max_passed, c - seen);
        spin(50);
        unlock();
        if (g_unpreempted && runqueue_ns(schedstat) - delayed < 1'000'000) {
          ++me.unpreempted;
          me.max_passed_unpreempted = std::max(me.max_passed_unpreempted, c - seen);
          me.max_ns_unpreempted = std::max(
              me.max_ns_unpreempted,
              static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
        }
        const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        ++me.hist[bucket(ns)];
        me.max_ns = std::max(me.max_ns, ns);
        me.over_1ms += ns > 1'000'000;
        me.over_10ms += ns > 10'000'000;
        ++me.ops;
        spin(200);
      }
      if (schedstat >= 0) close(schedstat);
    });
  const auto start = Clock::now();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop.store(true);
  for (std::thread& t : ts) t.join();
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t fewest = ~std::uint64_t{0}, most = 0;
  for (const PerThread& p : per) {
    r.ops += p.ops;
    fewest = std::min(fewest, p.ops);
    most = std::max(most, p.ops);
    r.max_passed = std::max(r.max_passed, p.max_passed);
    r.unpreempted += p.unpreempted;
    r.max_passed_unpreempted = std::max(r.max_passed_unpreempted, p.max_passed_unpreempted);
    r.max_ns_unpreempted = std::max(r.max_ns_unpreempted, p.max_ns_unpreempted);
    for (int b = 0; b < kBuckets; ++b) r.hist[b] += p.hist[b];
    r.max_ns = std::max(r.max_ns, p.max_ns);
    r.over_1ms += p.over_1ms;
    r.over_10ms += p.over_10ms;
  }
  r.fairness = most == 0 ? 0 : static_cast<double>(fewest) / static_cast<double>(most);
  if (counter.load() != r.ops) {
    std::fprintf(stderr, "lost updates: counter %llu, operations %llu\n", static_cast<unsigned long long>(counter.load()),
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
  std::printf("| %s | %.2f | %s | %s | %s | %s | %s | %s | %llu | %llu | %llu | %.2f |\n", name,
              static_cast<double>(r.ops) / r.seconds / 1e6, sleeps.c_str(), timeouts.c_str(),
              us(quantile(r, 0.5)).c_str(), us(quantile(r, 0.99)).c_str(), us(quantile(r, 0.999)).c_str(),
              us(r.max_ns).c_str(), static_cast<unsigned long long>(r.over_1ms),
              static_cast<unsigned long long>(r.over_10ms), static_cast<unsigned long long>(r.max_passed),
              r.fairness);
  if (g_unpreempted)
    std::printf("|   %s, waits under 1 ms on the run queue: %llu of %llu; most passed over %llu, longest %s us |\n", name,
                static_cast<unsigned long long>(r.unpreempted), static_cast<unsigned long long>(r.ops),
                static_cast<unsigned long long>(r.max_passed_unpreempted), us(r.max_ns_unpreempted).c_str());
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
    else if (std::strcmp(argv[i], "--unpreempted") == 0) g_unpreempted = true;
    else if (std::strncmp(argv[i], "--hunger-us=", 12) == 0) {
      if (&smplock::detail::g_hunger_budget_ns == nullptr) {
        std::fprintf(stderr, "bench_park: this library has no hunger budget\n");
        return 2;
      }
      const bool never = std::strcmp(argv[i] + 12, "never") == 0;
      smplock::detail::g_hunger_budget_ns.store(never ? ~std::uint64_t{0}
                                                      : static_cast<std::uint64_t>(std::atof(argv[i] + 12) * 1000.0));
    } else {
      std::fprintf(stderr, "usage: bench_park [--threads=N] [--seconds=S] [--lock=ours|mutex|both] [--hunger-us=U|never] [--unpreempted]\n");
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
              " waits > 1 ms | waits > 10 ms | most passed over | fairness |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  if (which != "mutex") {
    static smplock::Lock lock(smplock::Level::PS, "bench-park");
    const Result r = run(threads, seconds, [] { lock.lock(); }, [] { lock.unlock(); });
    std::uint64_t parks = 0;
    for (const smplock::stats::ClassStats& c : smplock::stats::snapshot().classes)
      if (c.name == "bench-park") parks = c.counters.parks;
    char sleeps[32];
    std::snprintf(sleeps, sizeof sleeps, "%.2f", 1000.0 * static_cast<double>(parks) / static_cast<double>(r.ops));
    print_row("smplock::Lock", r, sleeps, "only before the hunger budget");
  }
  if (which != "ours") {
    static std::mutex m;
    const Result r = run(threads, seconds, [] { m.lock(); }, [] { m.unlock(); });
    print_row("std::mutex", r, "-", "none (no time limit)");
  }
  return 0;
}
