// Interrupt figures (DESIGN §10, issue 3), in one run:
//
//   Masking cost. Raising and lowering the level is how this library masks interrupts (lazily:
//   no system call). Side by side with the way a program masks a signal, a pthread_sigmask
//   block + unblock pair:
//     BM_Level_Raise             raise_level(HI) + lower_level(): masks every IRQ on this CPU,
//                                no lock (the level alone, as a kernel raises its IPL)
//     BM_Level_HI                acquire + release of a HI lock (masks every IRQ)
//     BM_Level_LineLock          acquire + release of IRQ 3's own lock (locks that line out)
//     BM_Level_WithIrqHeldBack   acquire + release of a KT lock while IRQ 7 is pending and held
//                                back below it: every release finds `pending` set and looks
//     BM_Sigmask_Pair            pthread_sigmask block + unblock
//   Deferral and delivery, the whole round trip:
//     BM_Defer_Level             hold IRQ 3's lock, raise IRQ 3 on this CPU, release: the release
//                                runs the (empty) handler
//     BM_Defer_Sigmask           block a signal, send it to this thread, unblock: the kernel runs
//                                the (empty) handler
//   Latency from the release that unmasks an IRQ to its handler's first instruction:
//     BM_Latency_SameCpu         the release and the handler on one CPU
//     BM_Latency_CrossCpu_LockOut  another CPU's signal handler waits on the line's lock this CPU
//                                holds; the release hands it over
//   and, for reference, from raise() to the handler on another CPU (the signal's trip):
//     BM_Latency_RaiseToOtherCpu_Busy     the target runs at Null, busy
//     BM_Latency_RaiseToOtherCpu_Blocked  the target is blocked in read() on a pipe
// Latencies are reported as counters (ns, median and mean over the iterations) measured with the
// TSC, calibrated against the steady clock.
#include <benchmark/benchmark.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "smplock/smplock.hpp"

namespace {

using namespace smplock;

// --- TSC to nanoseconds, calibrated once against the steady clock ---

double ns_per_tick() {
  static const double value = [] {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = __rdtsc();
    while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(20)) {
    }
    const auto t1 = std::chrono::steady_clock::now();
    const std::uint64_t c1 = __rdtsc();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(c1 - c0);
  }();
  return value;
}

// Latency samples of one benchmark run: the mean of all, and the median of the last 4096 (cross-CPU
// means are wrecked by the odd time slice lost to another process on a small machine; the median
// says what a delivery usually costs).
class Samples {
 public:
  void add(std::uint64_t start, std::uint64_t end) {
    const double ns = end > start ? static_cast<double>(end - start) * ns_per_tick() : 0.0;  // TSCs agree across cores
    sum_ += ns;
    ring_[count_++ % kRing] = ns;
  }
  void report(benchmark::State& state, const char* name) {
    if (count_ == 0) return;
    const std::size_t n = std::min<std::size_t>(count_, kRing);
    std::nth_element(ring_.begin(), ring_.begin() + n / 2, ring_.begin() + n);
    state.counters[std::string(name) + "_median_ns"] = ring_[n / 2];
    state.counters[std::string(name) + "_mean_ns"] = sum_ / static_cast<double>(count_);
  }

 private:
  static constexpr std::size_t kRing = 4096;
  std::vector<double> ring_ = std::vector<double>(kRing);
  double sum_ = 0;
  std::size_t count_ = 0;
};

std::atomic<std::uint64_t> g_handler_tsc{0};
std::atomic<std::uint64_t> g_handler_calls{0};

void stamp_handler(void*) {
  g_handler_tsc.store(__rdtsc(), std::memory_order_relaxed);
  g_handler_calls.fetch_add(1, std::memory_order_release);
}
void empty_handler(void*) { g_handler_calls.fetch_add(1, std::memory_order_relaxed); }

// --- masking cost ---

void BM_Level_Raise(benchmark::State& state) {
  for (auto _ : state) {
    const Level p = raise_level(Level::HI);
    benchmark::ClobberMemory();
    lower_level(p);
  }
}
BENCHMARK(BM_Level_Raise);

void BM_Level_HI(benchmark::State& state) {
  static Lock hi(Level::HI, "bench HI");
  for (auto _ : state) {
    const Level p = hi.acquire();
    benchmark::ClobberMemory();
    hi.release(p);
  }
}
BENCHMARK(BM_Level_HI);

void BM_Level_LineLock(benchmark::State& state) {
  Lock& line = irq::line(3);
  for (auto _ : state) {
    const Level p = line.acquire();
    benchmark::ClobberMemory();
    line.release(p);
  }
}
BENCHMARK(BM_Level_LineLock);

void BM_Level_WithIrqHeldBack(benchmark::State& state) {
  static Lock kt(Level::KT, "bench KT");
  irq::attach(7, empty_handler, nullptr);
  Lock& seven = irq::line(7);
  const Level outer = seven.acquire();
  irq::raise(7, cpu_index());  // pending, held back by IRQ 7's own lock for the whole loop
  for (auto _ : state) {
    const Level p = kt.acquire();
    benchmark::ClobberMemory();
    kt.release(p);
  }
  seven.release(outer);  // delivers it now
  irq::detach(7, empty_handler, nullptr);
}
BENCHMARK(BM_Level_WithIrqHeldBack);

void BM_Sigmask_Pair(benchmark::State& state) {
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  for (auto _ : state) {
    pthread_sigmask(SIG_BLOCK, &set, &old);
    benchmark::ClobberMemory();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
}
BENCHMARK(BM_Sigmask_Pair);

// --- deferral round trips ---

void BM_Defer_Level(benchmark::State& state) {
  irq::attach(3, empty_handler, nullptr);
  Lock& line = irq::line(3);
  const int me = cpu_index();
  const std::uint64_t before = g_handler_calls.load();
  for (auto _ : state) {
    const Level p = line.acquire();
    irq::raise(3, me);  // held back: this CPU is at the line's level
    line.release(p);    // delivered here
  }
  if (g_handler_calls.load() - before != static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("lost interrupts");
  irq::detach(3, empty_handler, nullptr);
}
BENCHMARK(BM_Defer_Level);

void usr2_handler(int) { g_handler_calls.fetch_add(1, std::memory_order_relaxed); }

void BM_Defer_Sigmask(benchmark::State& state) {
  struct sigaction sa {};
  sa.sa_handler = usr2_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR2, &sa, nullptr);
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  const pid_t pid = getpid();
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  const std::uint64_t before = g_handler_calls.load();
  for (auto _ : state) {
    pthread_sigmask(SIG_BLOCK, &set, &old);
    syscall(SYS_tgkill, pid, tid, SIGUSR2);  // held back by the mask
    pthread_sigmask(SIG_SETMASK, &old, nullptr);  // delivered here
  }
  if (g_handler_calls.load() - before != static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("lost signals");
}
BENCHMARK(BM_Defer_Sigmask);

// --- latency: release to handler ---

void BM_Latency_SameCpu(benchmark::State& state) {
  irq::attach(3, stamp_handler, nullptr);
  Lock& line = irq::line(3);
  const int me = cpu_index();
  Samples samples;
  for (auto _ : state) {
    const Level p = line.acquire();
    irq::raise(3, me);
    const std::uint64_t t0 = __rdtsc();
    line.release(p);
    samples.add(t0, g_handler_tsc.load(std::memory_order_relaxed));
  }
  samples.report(state, "release_to_handler");
  irq::detach(3, stamp_handler, nullptr);
}
BENCHMARK(BM_Latency_SameCpu);

// A second CPU for the cross-CPU cells: at Null, busy or blocked in read(), until told to stop.
class Target {
 public:
  explicit Target(bool blocked) : blocked_(blocked) {
    if (pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
    thread_ = std::thread([this] {
      index_.store(cpu_index());
      while (!stop_.load(std::memory_order_relaxed)) {
        if (blocked_) {
          char c;
          (void)!read(fds_[0], &c, 1);  // restarted after each interrupt; the stop byte ends it
        }
      }
    });
    while (index_.load() < 0) std::this_thread::yield();
  }
  ~Target() {
    stop_.store(true);
    (void)!write(fds_[1], "x", 1);
    thread_.join();
    close(fds_[0]);
    close(fds_[1]);
  }
  int index() const { return index_.load(); }

 private:
  bool blocked_;
  int fds_[2];
  std::atomic<int> index_{-1};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Waits for the target: spins for about 30 us (longer than a signal's trip, so on a machine with a
// spare core the waiter never gives its core away mid-measurement), then yields, so that on a
// machine with no spare core the target gets to run.
template <class Done>
void wait_until(Done done) {
  for (unsigned i = 0; !done(); ++i) {
    _mm_pause();
    if (i >= 1024) std::this_thread::yield();
  }
}

void wait_for_calls(std::uint64_t n) {
  wait_until([n] { return g_handler_calls.load(std::memory_order_acquire) >= n; });
}

void BM_Latency_CrossCpu_LockOut(benchmark::State& state) {
  irq::attach(5, stamp_handler, nullptr);
  Target target(false);
  Lock& line = irq::line(5);
  const std::atomic<std::uint8_t>& target_level = smplock::detail::cpu_record(static_cast<unsigned>(target.index()))->level;
  const std::uint8_t line_level = to_int(irq_level(5));
  Samples samples;
  for (auto _ : state) {
    const std::uint64_t calls = g_handler_calls.load();
    const Level p = line.acquire();
    irq::raise(5, target.index());
    // The target's signal handler has raised its level to the line's and is waiting for our lock.
    wait_until([&] { return target_level.load(std::memory_order_relaxed) == line_level; });
    const std::uint64_t t0 = __rdtsc();
    line.release(p);
    wait_for_calls(calls + 1);
    samples.add(t0, g_handler_tsc.load(std::memory_order_relaxed));
  }
  samples.report(state, "release_to_handler");
  irq::detach(5, stamp_handler, nullptr);
}
BENCHMARK(BM_Latency_CrossCpu_LockOut)->UseRealTime();

void raise_to_other(benchmark::State& state, bool blocked) {
  irq::attach(6, stamp_handler, nullptr);
  Target target(blocked);
  Samples samples;
  for (auto _ : state) {
    const std::uint64_t calls = g_handler_calls.load();
    const std::uint64_t t0 = __rdtsc();
    irq::raise(6, target.index());
    wait_for_calls(calls + 1);
    samples.add(t0, g_handler_tsc.load(std::memory_order_relaxed));
  }
  samples.report(state, "raise_to_handler");
  irq::detach(6, stamp_handler, nullptr);
}
void BM_Latency_RaiseToOtherCpu_Busy(benchmark::State& state) { raise_to_other(state, false); }
void BM_Latency_RaiseToOtherCpu_Blocked(benchmark::State& state) { raise_to_other(state, true); }
BENCHMARK(BM_Latency_RaiseToOtherCpu_Busy)->UseRealTime();
BENCHMARK(BM_Latency_RaiseToOtherCpu_Blocked)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
