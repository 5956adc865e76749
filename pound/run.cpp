// One run of the pound kernel: the CPU threads started, the kernel built on CPU 0, the timer
// thread (which also samples the CPU threads' lock waits), the throughput window, what the machine
// took away (run delay, involuntary switches), the figures gathered and checked at the end. Also
// Result's figures and the CPU model.
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>

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

// The calling thread's run delay so far: time it was ready to run but waited for a processor
// (the second field of schedstat, in ns). -1 where the kernel does not keep it.
double thread_run_delay_seconds() {
  std::ifstream in("/proc/thread-self/schedstat");
  unsigned long long run_ns = 0, delay_ns = 0;
  if (!(in >> run_ns >> delay_ns)) return -1;
  return static_cast<double>(delay_ns) * 1e-9;
}

std::uint64_t thread_involuntary_switches() {
  rusage u{};
  if (getrusage(RUSAGE_THREAD, &u) != 0) return 0;
  return static_cast<std::uint64_t>(u.ru_nivcsw);
}

// A thread's scheduler state from /proc/self/task/TID/stat: 'R' runnable (running or waiting for a
// processor), 'S' sleeping (a parked waiter), ... '?' where it cannot be read.
char thread_state(int tid) {
  const std::string path = fmt::format("/proc/self/task/{}/stat", tid);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  const char* close_paren = std::strrchr(buf, ')');  // the name may hold spaces and parentheses
  return close_paren != nullptr && close_paren[1] == ' ' ? close_paren[2] : '?';
}

// Samples, on every timer tick, which CPU threads wait for a lock and whether the lock's holder
// (another CPU thread whose LockTrace holds it) had the processor in the tick before, or, where no
// thread holds it any more, whether the waiter had. A thread that ran less than half of the tick and is runnable ('R') was preempted:
// the OS gave its processor to someone else; one that sleeps (a waiter parked in the lock) was not.
// Two clock reads per CPU per tick, and a /proc read only for a thread that did not run; nothing on
// the CPU threads' side but their LockTrace stores.
class WaitSampler {
 public:
  explicit WaitSampler(const std::vector<std::unique_ptr<Cpu>>& cpus) : cpus_(cpus), last_ns_(cpus.size(), -1) {}

  void sample() {
    const auto now = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double, std::nano>(now - last_).count();
    last_ = now;
    const std::size_t n = cpus_.size();
    ran_.assign(n, true);
    state_.assign(n, 0);
    bool valid = true;
    for (std::size_t i = 0; i < n; ++i) {
      Cpu& c = *cpus_[i];
      if (!c.clock_ready.load(std::memory_order_acquire)) {
        valid = false;
        continue;
      }
      timespec ts{};
      if (clock_gettime(c.clock, &ts) != 0) {
        valid = false;
        continue;
      }
      const double ns = static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
      if (last_ns_[i] < 0) valid = false;
      ran_[i] = last_ns_[i] < 0 || ns - last_ns_[i] >= 0.5 * dt;
      last_ns_[i] = ns;
    }
    if (!valid) return;  // the first tick only sets the clocks' starting points
    // Preempted: did not run for most of the tick, and not because it slept.
    const auto preempted = [&](std::size_t i) {
      if (ran_[i]) return false;
      if (state_[i] == 0) state_[i] = thread_state(cpus_[i]->tid);
      return state_[i] == 'R';
    };
    for (std::size_t y = 0; y < n; ++y) {
      const Lock* wanted = cpus_[y]->trace.waiting.load(std::memory_order_relaxed);
      if (wanted == nullptr) continue;
      Result::WaitSamples& w = by_lock_[wanted];
      // The holder decides: behind a running holder the waiter would wait however the OS treated
      // it (the seed's contention); behind a preempted one it waits for the OS.
      int holder = -1;
      for (std::size_t x = 0; x < n && holder < 0; ++x) {
        if (x == y) continue;
        const LockTrace& t = cpus_[x]->trace;
        const unsigned d = std::min(t.depth.load(std::memory_order_relaxed), LockTrace::kDepth);
        for (unsigned k = 0; k < d; ++k)
          if (t.held[k].load(std::memory_order_relaxed) == wanted) holder = static_cast<int>(x);
      }
      if (holder >= 0) {
        if (preempted(static_cast<std::size_t>(holder)))
          ++w.preempted_holder;
        else
          ++w.running;
      } else if (preempted(y)) {
        ++w.waiter_off_cpu;  // the lock is free: the waiter is late because it lost its processor
      } else {
        ++w.running;         // a hand-off in flight
      }
    }
  }

  // Per class (while the locks are alive).
  std::vector<Result::WaitSamples> by_class() const {
    std::vector<Result::WaitSamples> out;
    for (const auto& [lock, w] : by_lock_) {
      auto it = std::find_if(out.begin(), out.end(), [&](const auto& o) { return o.lock == lock->name(); });
      if (it == out.end()) {
        out.push_back(w);
        out.back().lock = lock->name();
      } else {
        it->running += w.running;
        it->preempted_holder += w.preempted_holder;
        it->waiter_off_cpu += w.waiter_off_cpu;
      }
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.total() > b.total(); });
    return out;
  }

 private:
  const std::vector<std::unique_ptr<Cpu>>& cpus_;
  std::vector<double> last_ns_;
  std::vector<bool> ran_;
  std::vector<char> state_;  // per CPU thread, read at most once a tick (0: not yet)
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
  std::unordered_map<const Lock*, Result::WaitSamples> by_lock_;
};

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
  std::unique_ptr<WaitSampler> sampler;
  PoolFigures pool_at_start;

  auto worker = [&](unsigned n) {
    if (n == 0) {
      // CPU 0 builds the kernel (it allocates and takes locks, so it must be a CPU).
      locks = std::make_unique<LockSet>(config.locks);
      kernel = std::make_unique<Kernel>(config, *locks);
      kernel->attach_irqs();
      // The user-mode stretch in iterations of its loop, timed on this machine now.
      kernel->user_iterations =
          config.user_ns > 0 ? static_cast<unsigned>(config.user_ns / user_mode_ns_per_iteration() + 0.5) : 0;
      shared.store(kernel.get(), std::memory_order_release);
    }
    sync.arrive_and_wait();
    Kernel& k = *shared.load(std::memory_order_acquire);
    Cpu& c = *k.cpus[n];
    k.register_cpu(c);
    c.tid = static_cast<int>(::gettid());
    if (pthread_getcpuclockid(pthread_self(), &c.clock) == 0) c.clock_ready.store(true, std::memory_order_release);
    t_lock_trace = &c.trace;
    sync.arrive_and_wait();
    // The window opens while every CPU waits at the next barrier: the statistics and the pool's
    // figures start from the same instant, so what the run reports is exactly what the CPUs did
    // between this barrier and the one after cpu_main (setup and registration fall outside it).
    std::thread timer;
    if (n == 0) {
      irq::reset_line_stats();
      stats::reset();
      pool_at_start = k.pool->figures();
      if (config.sample_waits) sampler = std::make_unique<WaitSampler>(k.cpus);
      timer = std::thread([&k, hz = config.timer_hz, s = sampler.get()] {
        const auto period = std::chrono::nanoseconds(1'000'000'000 / std::max(1u, hz));
        auto next = std::chrono::steady_clock::now();
        while (!k.stop.load(std::memory_order_relaxed)) {
          next += period;
          std::this_thread::sleep_until(next);
          k.timer_tick_all();
          if (s != nullptr) s->sample();
        }
      });
      t0 = std::chrono::steady_clock::now();
      started.store(true, std::memory_order_release);
    }
    sync.arrive_and_wait();
    const double cpu0 = thread_cpu_seconds();
    const double delay0 = thread_run_delay_seconds();
    const std::uint64_t switches0 = thread_involuntary_switches();
    k.cpu_main(c);
    c.cpu_seconds = thread_cpu_seconds() - cpu0;
    const double delay1 = thread_run_delay_seconds();
    c.run_delay_seconds = delay0 >= 0 && delay1 >= 0 ? delay1 - delay0 : -1;
    c.involuntary_switches = thread_involuntary_switches() - switches0;
    if (n == 0) {
      timer.join();
      k.timer_stopped.store(true, std::memory_order_release);
    }
    k.drain(c);
    t_lock_trace = nullptr;
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
      r.pool.mallocs -= pool_at_start.mallocs;
      r.pool.frees -= pool_at_start.frees;
      r.pool.lock_acquisitions -= pool_at_start.lock_acquisitions;
      r.user_ns = config.user_ns;
      double delay = 0;
      for (auto& cpu : k.cpus) {
        r.involuntary_switches += cpu->involuntary_switches;
        delay = delay >= 0 && cpu->run_delay_seconds >= 0 ? delay + cpu->run_delay_seconds : -1;
      }
      r.run_delay_share = delay;  // divided by the window below
      if (sampler) r.waits_sampled = sampler->by_class();
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
  if (r.run_delay_share >= 0) r.run_delay_share = r.seconds > 0 ? r.run_delay_share / (r.seconds * config.cpus) : 0;
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
