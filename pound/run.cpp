// One run of the pound kernel: the CPU threads started, the kernel built on CPU 0, the timer
// thread, the throughput window, the figures gathered and checked at the end. Also Result's
// figures and the CPU model.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "kernel/objects.hpp"
#include "smplock/cpu.hpp"
#include "smplock/irq.hpp"

namespace smplock::pound {

std::uint64_t Result::total_ops() const {
  std::uint64_t n = 0;
  for (std::uint64_t v : ops) n += v;
  return n;
}

double Result::ops_per_second() const { return seconds > 0 ? static_cast<double>(total_ops()) / seconds : 0.0; }

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string m = line.substr(colon + 1);
        m.erase(0, m.find_first_not_of(" \t"));
        return m;
      }
    }
  }
  return "unknown";
}

namespace detail {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

Result run_kernel(const Config& config, const Progress& progress) {
  Result r;
  r.locks = config.locks;
  r.cpus = config.cpus;
  std::unique_ptr<LockSet> locks;
  std::unique_ptr<Kernel> kernel;
  std::atomic<bool> started{false};
  std::atomic<Kernel*> shared{nullptr};
  std::chrono::steady_clock::time_point t0, t1;
  std::barrier<> sync(static_cast<std::ptrdiff_t>(config.cpus));

  auto worker = [&](unsigned n) {
    if (n == 0) {
      // CPU 0 builds the kernel (it allocates and takes locks, so it must be a CPU).
      locks = std::make_unique<LockSet>(config.locks);
      kernel = std::make_unique<Kernel>(config, *locks);
      kernel->attach_irqs();
      shared.store(kernel.get(), std::memory_order_release);
    }
    sync.arrive_and_wait();
    Kernel& k = *shared.load(std::memory_order_acquire);
    Cpu& c = *k.cpus[n];
    k.register_cpu(c);
    sync.arrive_and_wait();
    std::thread timer;
    if (n == 0) {
      irq::reset_line_stats();
      stats::reset();
      timer = std::thread([&k, hz = config.timer_hz] {
        const auto period = std::chrono::nanoseconds(1'000'000'000 / std::max(1u, hz));
        auto next = std::chrono::steady_clock::now();
        while (!k.stop.load(std::memory_order_relaxed)) {
          next += period;
          std::this_thread::sleep_until(next);
          k.timer_tick_all();
        }
      });
      t0 = std::chrono::steady_clock::now();
      started.store(true, std::memory_order_release);
    }
    const double cpu0 = thread_cpu_seconds();
    k.cpu_main(c);
    c.cpu_seconds = thread_cpu_seconds() - cpu0;
    if (n == 0) {
      timer.join();
      k.timer_stopped.store(true, std::memory_order_release);
    }
    k.drain(c);
    sync.arrive_and_wait();
    if (n == 0) {
      r.snapshot = stats::snapshot();
      r.snapshot.cpus = config.cpus;  // the run's CPUs (the library counts every thread it has seen)
      for (auto& cpu : k.cpus) {
        for (unsigned i = 0; i < kPaths; ++i) r.ops[i] += cpu->ops[i];
        r.thread_switches += cpu->switches;
        r.cpu_share += cpu->cpu_seconds;
        r.again += cpu->net_again + cpu->disk_again + cpu->fault_again;
        r.denied += cpu->denied;
        r.waits += cpu->waits;
        r.timer_ticks += cpu->ticks.load(std::memory_order_relaxed);
      }
      for (auto& cpu : k.cpus) {
        r.lowipl_calls += cpu->lowipl_calls.load(std::memory_order_relaxed);
        r.disk_irps += cpu->disk_irps.load(std::memory_order_relaxed);
        r.packets += cpu->packets.load(std::memory_order_relaxed);
      }
      r.pool = k.pool->figures();
      k.check(r);
      k.teardown_and_check(r);
      k.detach_irqs();
    }
    sync.arrive_and_wait();
    if (n == 0) {
      kernel.reset();
      locks.reset();
    }
  };

  std::vector<std::thread> threads;
  for (unsigned n = 0; n < config.cpus; ++n) threads.emplace_back(worker, n);
  while (!started.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Kernel& k = *shared.load(std::memory_order_acquire);
  const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(config.seconds));
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_until(std::min(deadline, now + std::chrono::milliseconds(100)));
    if (progress) {
      std::uint64_t ops = 0;
      for (auto& c : k.cpus) ops += c->ops_so_far.load(std::memory_order_relaxed);
      progress(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), ops);
    }
  }
  k.stop.store(true, std::memory_order_release);
  t1 = std::chrono::steady_clock::now();
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.cpu_share = r.seconds > 0 ? r.cpu_share / (r.seconds * config.cpus) : 0;
  return r;
}

}  // namespace detail

Result run(const Config& config, const Progress& progress) {
  if (config.cpus == 0 || config.cpus > max_cpus() - 2)
    throw std::invalid_argument(fmt::format("cpus must be 1..{}", max_cpus() - 2));
  if (!(config.seconds > 0) || config.seconds > 3600) throw std::invalid_argument("seconds must be in (0, 3600]");
  if (config.processes == 0 || config.processes > 16) throw std::invalid_argument("processes must be 1..16");
  if (config.threads_per_process == 0 || config.threads_per_process > 64)
    throw std::invalid_argument("threads per process must be 1..64");
  return detail::run_kernel(config, progress);
}

}  // namespace smplock::pound
