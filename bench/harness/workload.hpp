// bench/harness/workload.hpp: the measured workloads, written once for every lock adapter
// (adapters.hpp) and shared by the benchmarks and the correctness stress test.
//
//   spin_work(), steps_per_us()   a critical section of calibrated length (~1 us for "long")
//   run_contended<L>()            N threads on one lock (or a chain of 4) for a fixed time; counts
//                                 each thread's operations and checks the protected counter
//   run_pingpong<L>()             two threads pass one lock back and forth; measures the hand-off
//   RunResult, Percentiles        what a run reports
//
// Every run is bounded in time, not in operations: a FIFO lock with more threads than cores hands
// the lock to a thread that is not running and may manage only a few hundred operations a second;
// the run then reports that, it never hangs. A thread checks the stop flag between operations, so
// a run ends at most one (possibly slow) hand-off round after its time is up; that tail is counted
// in the elapsed time. A test can also ask for a floor of operations (`min_ops`, `min_rounds`): the
// run then goes on past its time until every thread has done that many, so what the test counts
// does not depend on how much of the time the machine gave the threads.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace smplock::bench {

// Monotonic nanoseconds (clock_gettime through the vDSO: no system call).
inline std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// `steps` dependent multiply-adds the compiler can neither drop nor vectorise.
inline std::uint64_t spin_work(std::uint64_t steps, std::uint64_t x) {
  for (std::uint64_t i = 0; i < steps; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    asm volatile("" : "+r"(x));
  }
  return x;
}

// How many spin_work steps take one microsecond on this machine (measured once, best of 5).
inline std::uint64_t steps_per_us() {
  static const std::uint64_t steps = [] {
    constexpr std::uint64_t kSteps = 1u << 20;
    std::uint64_t best = ~0ull;
    for (int i = 0; i < 5; ++i) {
      const std::uint64_t t0 = now_ns();
      volatile std::uint64_t sink = spin_work(kSteps, t0);
      (void)sink;
      best = std::min(best, now_ns() - t0);
    }
    return std::max<std::uint64_t>(1, kSteps * 1000 / std::max<std::uint64_t>(best, 1));
  }();
  return steps;
}

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0;
  std::size_t samples = 0;
};

inline Percentiles percentiles(std::vector<std::uint32_t> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) { return static_cast<double>(v[static_cast<std::size_t>(q * (v.size() - 1))]); };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = static_cast<double>(v.back());
  p.samples = v.size();
  return p;
}

struct RunResult {
  std::uint64_t total_ops = 0;  // critical sections completed by all threads
  std::uint64_t min_ops = 0;    // fewest by one thread (fairness)
  std::uint64_t max_ops = 0;    // most by one thread
  double seconds = 0;           // from the start signal until the last thread stopped
  std::uint64_t counter = 0;    // the protected counter at the end: must equal total_ops
  std::uint64_t inner = 0;      // per-lock counters of a chain, summed: must equal chain * total_ops
  unsigned chain = 1;
  Percentiles latency;          // acquire wait (sampled) or hand-off latency, in ns
  bool exact() const { return counter == total_ops && inner == total_ops * chain; }
};

enum class Section { Short, Long };

namespace detail_workload {

// One thread's tally, on its own cache line.
struct alignas(64) Tally {
  std::uint64_t ops = 0;
  std::vector<std::uint32_t> samples;
};

inline std::uint32_t clamp32(std::uint64_t v) { return v > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(v); }

// Whether workers are pinned, worker i to the i-th CPU the process may use (round robin). On by
// default: "2 threads" then means two cores, and a hand-off is measured between cores rather than
// between two threads the scheduler happened to put on one core (which on a busy 2-core machine
// turns a 0.3 us hand-off into a wait for a time slice). set_pinning(false) leaves placement to the
// scheduler.
inline std::atomic<bool>& pinning() {
  static std::atomic<bool> on{true};
  return on;
}
inline void set_pinning(bool on) { pinning().store(on, std::memory_order_relaxed); }

inline void pin_worker(std::thread& t, unsigned index) {
  if (!pinning().load(std::memory_order_relaxed)) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  const int count = CPU_COUNT(&allowed);
  if (count <= 0) return;
  int want = static_cast<int>(index % static_cast<unsigned>(count));
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &allowed)) continue;
    if (want-- == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      pthread_setaffinity_np(t.native_handle(), sizeof one, &one);  // best effort
      return;
    }
  }
}

// Starts `threads` workers running body(index, tally), lets them run for `duration`, stops them.
template <class Body>
double run_for(unsigned threads, std::chrono::nanoseconds duration, std::vector<Tally>& tallies,
               std::atomic<bool>& stop, Body body) {
  std::atomic<unsigned> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (unsigned i = 0; i < threads; ++i)
    workers.emplace_back([&, i] {
      ready.fetch_add(1, std::memory_order_relaxed);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(i, tallies[i]);
    });
  for (unsigned i = 0; i < threads; ++i) pin_worker(workers[i], i);
  while (ready.load(std::memory_order_relaxed) != threads) std::this_thread::yield();
  const std::uint64_t t0 = now_ns();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(duration);
  stop.store(true, std::memory_order_relaxed);
  for (auto& w : workers) w.join();
  return static_cast<double>(now_ns() - t0) * 1e-9;
}

// Waits until done() or stop: spins with pause for a few microseconds, then yields, so a waiter
// whose partner is not running (a busy machine) gives it the core.
template <class Done>
void await(Done done, const std::atomic<bool>& stop) {
  for (unsigned spins = 0; !done() && !stop.load(std::memory_order_relaxed); ++spins) {
    if (spins < 200)
      __builtin_ia32_pause();
    else
      std::this_thread::yield();
  }
}

template <class Done>
void await(Done done) {
  for (unsigned spins = 0; !done(); ++spins) {
    if (spins < 200)
      __builtin_ia32_pause();
    else
      std::this_thread::yield();
  }
}

inline void tally_up(RunResult& r, std::vector<Tally>& tallies) {
  r.min_ops = ~0ull;
  std::vector<std::uint32_t> all;
  for (auto& t : tallies) {
    r.total_ops += t.ops;
    r.min_ops = std::min(r.min_ops, t.ops);
    r.max_ops = std::max(r.max_ops, t.ops);
    all.insert(all.end(), t.samples.begin(), t.samples.end());
  }
  r.latency = percentiles(std::move(all));
}

}  // namespace detail_workload

using detail_workload::pinning;
using detail_workload::set_pinning;

// `threads` threads take `chain` locks (1, or up to 4 nested in a fixed order: ours at rising
// levels) around a counter increment (Section::Short) or a counter increment plus ~1 us of work
// (Section::Long), until `duration` is up. One acquisition in 128 is timed (the wait to get the
// first lock) for the latency percentiles.
template <class L>
RunResult run_contended(unsigned threads, unsigned chain, Section section, std::chrono::nanoseconds duration,
                        std::uint64_t min_ops = 0) {
  using namespace detail_workload;
  struct alignas(64) Slot {
    explicit Slot(unsigned rank) : lock(rank) {}
    L lock;
    std::uint64_t inner = 0;  // protected by `lock`
  };
  Slot slots[4] = {Slot(0), Slot(1), Slot(2), Slot(3)};
  struct alignas(64) Shared {
    std::uint64_t counter = 0;  // protected by the innermost lock (and so by all of them)
    std::uint64_t sink = 0;
  } shared;
  chain = std::clamp(chain, 1u, 4u);
  const std::uint64_t work = section == Section::Long ? steps_per_us() : 0;
  std::vector<Tally> tallies(threads);
  std::atomic<bool> stop{false};
  constexpr std::size_t kMaxSamples = 1u << 15;

  RunResult r;
  r.chain = chain;
  r.seconds = run_for(threads, duration, tallies, stop, [&](unsigned, Tally& t) {
    typename L::Node nodes[4]{};
    t.samples.reserve(kMaxSamples);
    std::uint64_t ops = 0;
    while (ops < min_ops || !stop.load(std::memory_order_relaxed)) {
      const bool timed = (ops & 127) == 0 && t.samples.size() < kMaxSamples;
      const std::uint64_t t0 = timed ? now_ns() : 0;
      slots[0].lock.lock(nodes[0]);
      if (timed) t.samples.push_back(clamp32(now_ns() - t0));
      ++slots[0].inner;
      for (unsigned c = 1; c < chain; ++c) {
        slots[c].lock.lock(nodes[c]);
        ++slots[c].inner;
      }
      ++shared.counter;
      if (work != 0) shared.sink = spin_work(work, shared.sink);
      for (unsigned c = chain; c-- > 0;) slots[c].lock.unlock(nodes[c]);
      ++ops;
    }
    t.ops = ops;
  });
  tally_up(r, tallies);
  r.counter = shared.counter;
  for (unsigned c = 0; c < chain; ++c) r.inner += slots[c].inner;
  return r;
}

// Two threads hand one lock back and forth. Each round: the holder waits until the other thread
// is about to call lock(), waits `grace_ns` more so that it is inside lock() (spinning, or asleep
// if the lock sleeps that soon), stamps the time and unlocks; the other thread takes the lock and
// records the delay since the stamp. It then holds the lock for the next round. Reports hand-offs
// per second and the hand-off latency percentiles. The stop flag is obeyed only from round
// `min_rounds` on: both threads count rounds alike, so they agree on it.
template <class L>
RunResult run_pingpong(std::chrono::nanoseconds duration, std::uint64_t grace_ns = 500, std::uint64_t min_rounds = 0) {
  using namespace detail_workload;
  L lock(0);
  struct alignas(64) Flags {
    std::atomic<std::uint64_t> held{0};     // round whose holder has the lock (and announced it)
    std::atomic<std::uint64_t> waiting{0};  // round whose waiter is about to call lock()
  } flags;
  struct alignas(64) Shared {
    std::uint64_t released_at = 0;  // protected by the lock
    std::uint64_t handoffs = 0;     // protected by the lock
  } shared;
  std::vector<Tally> tallies(2);
  std::atomic<bool> stop{false};
  constexpr std::size_t kMaxSamples = 1u << 17;
  constexpr std::uint64_t kNone = ~0ull;
  flags.held.store(kNone, std::memory_order_relaxed);
  flags.waiting.store(kNone, std::memory_order_relaxed);

  RunResult r;
  r.seconds = run_for(2, duration, tallies, stop, [&](unsigned me, Tally& t) {
    typename L::Node node{};
    t.samples.reserve(kMaxSamples);
    // Thread 0 holds round 0; thread 1 waits in it. Round k's waiter holds round k+1.
    std::uint64_t round = 0;
    bool holding = false;
    if (me == 0) {
      lock.lock(node);
      holding = true;
    }
    const auto quit = [&] { return round >= min_rounds && stop.load(std::memory_order_relaxed); };
    while (!quit()) {
      if (holding) {
        flags.held.store(round, std::memory_order_release);
        await([&] { return flags.waiting.load(std::memory_order_acquire) == round || quit(); });
        const std::uint64_t until = now_ns() + grace_ns;
        while (now_ns() < until) __builtin_ia32_pause();
        shared.released_at = now_ns();
        lock.unlock(node);
        holding = false;
      } else {
        await([&] { return flags.held.load(std::memory_order_acquire) == round || quit(); });
        if (flags.held.load(std::memory_order_acquire) != round) break;  // quit() before our round came
        flags.waiting.store(round, std::memory_order_release);
        lock.lock(node);
        const std::uint64_t got = now_ns();
        if (t.samples.size() < kMaxSamples) t.samples.push_back(clamp32(got - shared.released_at));
        ++shared.handoffs;
        ++t.ops;
        holding = true;
      }
      ++round;
    }
    if (holding) lock.unlock(node);
  });
  tally_up(r, tallies);
  r.counter = shared.handoffs;
  r.inner = r.total_ops;
  return r;
}

}  // namespace smplock::bench
