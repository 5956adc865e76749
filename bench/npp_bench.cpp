// The non-paged pool beside the allocators in Debian, in one run: glibc malloc, mimalloc,
// jemalloc, gperftools tcmalloc and TBB's scalable allocator. The peers are opened with dlopen
// (RTLD_LOCAL) and called through their own entry points, so none of them replaces malloc for
// the others; every allocator, ours included, is called through a function pointer.
//
//   pairs/<alloc>/<size>          malloc + free of one block, 1 thread and 2 threads
//   batch_lifo|fifo/<alloc>/<n>   n blocks of sizes 16..1600 allocated, then freed newest-first or
//                                 oldest-first (1k and 100k live blocks)
//   prodcons/<alloc>              thread 0 allocates, thread 1 frees (through a ring): every free
//                                 is a cross-thread free
//   xthread/<alloc>               batches of 4096 allocated here, freed by a helper thread
//   irq_latency/<pool>            a thread inside a pool while IRQ 13 (0xE7) is raised on it from
//                                 another: the NP pool never holds the IRQ back, a pool at 0xE8 does
//
// Our rows carry counters: np_lock_rate (pool lock acquisitions per call) and fast_hit_rate.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "smplock/smplock.hpp"

namespace {

using namespace smplock;

struct Allocator {
  std::string name;
  void* (*alloc)(std::size_t);
  void (*release)(void*);
};

void* ours_malloc(std::size_t n) { return npp::malloc(n); }
void ours_free(void* p) { npp::free(p); }

std::vector<Allocator> load_allocators() {
  std::vector<Allocator> all;
  all.push_back({"npp", ours_malloc, ours_free});
  all.push_back({"glibc", ::malloc, ::free});
  struct Peer {
    const char* name;
    const char* lib;
    const char* alloc;
    const char* release;
  };
  const Peer peers[] = {
      {"mimalloc", "libmimalloc.so.2", "mi_malloc", "mi_free"},
      {"jemalloc", "libjemalloc.so.2", "malloc", "free"},
      {"tcmalloc", "libtcmalloc_minimal.so.4", "tc_malloc", "tc_free"},
      {"tbbmalloc", "libtbbmalloc.so.2", "scalable_malloc", "scalable_free"},
  };
  for (const Peer& p : peers) {
    void* h = dlopen(p.lib, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::fprintf(stderr, "npp_bench: %s not loaded (%s), skipped\n", p.name, dlerror());
      continue;
    }
    auto a = reinterpret_cast<void* (*)(std::size_t)>(dlsym(h, p.alloc));
    auto f = reinterpret_cast<void (*)(void*)>(dlsym(h, p.release));
    if (a == nullptr || f == nullptr) {
      std::fprintf(stderr, "npp_bench: %s has no %s/%s, skipped\n", p.name, p.alloc, p.release);
      continue;
    }
    all.push_back({p.name, a, f});
  }
  return all;
}

// Sizes 16..1600, the same sequence for every allocator.
std::vector<std::size_t> make_sizes(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::uint64_t x = 88172645463325252ull;
  for (auto& s : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s = 16 + x % (1600 - 16 + 1);
  }
  return v;
}
const std::vector<std::size_t> g_sizes = make_sizes(100000);

// Pool counters over a benchmark run (thread 0 reads them; the loop's end waits for every thread).
struct PoolCounters {
  npp::Stats before;
  void start(const Allocator& a) {
    if (a.alloc == ours_malloc) before = npp::stats();
  }
  void finish(const Allocator& a, benchmark::State& state) {
    if (a.alloc != ours_malloc) return;
    const npp::Stats after = npp::stats();
    const double calls = static_cast<double>(after.calls() - before.calls());
    if (calls == 0) return;
    state.counters["np_lock_rate"] = static_cast<double>(after.lock_acquisitions - before.lock_acquisitions) / calls;
    state.counters["fast_hit_rate"] = static_cast<double>(after.fast_hits - before.fast_hits) / calls;
  }
};

void pairs(benchmark::State& state, const Allocator& a) {
  const auto size = static_cast<std::size_t>(state.range(0));
  PoolCounters pc;
  if (state.thread_index() == 0) pc.start(a);
  for (auto _ : state) {
    void* p = a.alloc(size);
    static_cast<volatile char*>(p)[0] = 1;
    a.release(p);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) pc.finish(a, state);
}

void batch(benchmark::State& state, const Allocator& a, bool fifo) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<void*> blocks(n);
  PoolCounters pc;
  pc.start(a);
  for (auto _ : state) {
    for (std::size_t i = 0; i < n; ++i) {
      blocks[i] = a.alloc(g_sizes[i]);
      static_cast<volatile char*>(blocks[i])[0] = 1;
    }
    if (fifo) {
      for (std::size_t i = 0; i < n; ++i) a.release(blocks[i]);
    } else {
      for (std::size_t i = n; i-- > 0;) a.release(blocks[i]);
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  pc.finish(a, state);
}

// Waits until `ready()`: spins a little (the other side is usually running), then yields the core.
template <class Ready>
void wait_until(Ready ready) {
  for (int spins = 0; !ready(); ++spins) {
    if (spins < 256) {
      __builtin_ia32_pause();
    } else {
      std::this_thread::yield();
      spins = 0;
    }
  }
}

// A single-producer single-consumer ring of block pointers.
struct Ring {
  static constexpr std::size_t kSize = 1024;
  alignas(64) std::atomic<std::size_t> head{0};  // next to write (producer)
  alignas(64) std::atomic<std::size_t> tail{0};  // next to read (consumer)
  alignas(64) void* slots[kSize];
};
Ring g_ring;

void prodcons(benchmark::State& state, const Allocator& a) {
  PoolCounters pc;
  if (state.thread_index() == 0) {
    pc.start(a);
    std::size_t head = g_ring.head.load(std::memory_order_relaxed);
    for (auto _ : state) {
      void* p = a.alloc(g_sizes[head % g_sizes.size()]);
      static_cast<volatile char*>(p)[0] = 1;
      // Acquire pairs with the consumer's release of `tail`: the slot is free to overwrite.
      wait_until([&] { return head - g_ring.tail.load(std::memory_order_acquire) < Ring::kSize; });
      g_ring.slots[head % Ring::kSize] = p;
      g_ring.head.store(++head, std::memory_order_release);  // publishes the slot
    }
  } else {
    std::size_t tail = g_ring.tail.load(std::memory_order_relaxed);
    for (auto _ : state) {
      wait_until([&] { return g_ring.head.load(std::memory_order_acquire) != tail; });
      void* p = g_ring.slots[tail % Ring::kSize];
      g_ring.tail.store(++tail, std::memory_order_release);
      a.release(p);
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) pc.finish(a, state);
}

// Cross-thread frees without the two threads having to run at once (the ring above needs both
// on a core at the same moment, which a loaded machine rarely grants): the benchmark's thread
// allocates a batch, a helper thread frees all of it, then the next batch is allocated (from what
// the helper freed). Every free is a remote free; each hand-over is amortised over the batch.
struct Handoff {
  std::atomic<int> state{0};  // 0 idle, 1 batch ready for the helper, 2 helper done, 3 quit
  std::vector<void*>* batch = nullptr;
  const Allocator* alloc = nullptr;
  std::uint64_t free_cpu_ns = 0;  // the helper's CPU time inside its free loops
};

std::uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

// Reports work_cpu_ns: CPU time of the allocating loop plus the helper's freeing loop, per block:
// unlike wall time, it does not count the hand-overs or time the threads spent descheduled.
void xthread(benchmark::State& state, const Allocator& a) {
  constexpr std::size_t kBatch = 4096;
  std::vector<void*> blocks(kBatch);
  Handoff h;
  h.batch = &blocks;
  h.alloc = &a;
  std::thread helper([&h] {
    for (;;) {
      int st = h.state.load(std::memory_order_acquire);
      while (st != 1 && st != 3) {
        h.state.wait(st, std::memory_order_acquire);  // sleeps: waiting costs no CPU time
        st = h.state.load(std::memory_order_acquire);
      }
      if (st == 3) return;
      const std::uint64_t t0 = thread_cpu_ns();
      for (void* p : *h.batch) h.alloc->release(p);
      h.free_cpu_ns += thread_cpu_ns() - t0;
      h.state.store(2, std::memory_order_release);  // publishes: the batch is free
      h.state.notify_one();
    }
  });
  PoolCounters pc;
  pc.start(a);
  std::uint64_t alloc_cpu_ns = 0;
  for (auto _ : state) {
    const std::uint64_t t0 = thread_cpu_ns();
    for (std::size_t i = 0; i < kBatch; ++i) {
      blocks[i] = a.alloc(g_sizes[i]);
      static_cast<volatile char*>(blocks[i])[0] = 1;
    }
    alloc_cpu_ns += thread_cpu_ns() - t0;
    h.state.store(1, std::memory_order_release);  // the helper may free them now
    h.state.notify_one();
    int st;
    while ((st = h.state.load(std::memory_order_acquire)) != 2) h.state.wait(st, std::memory_order_acquire);
  }
  h.state.store(3, std::memory_order_release);
  h.state.notify_one();
  helper.join();
  const double items = static_cast<double>(state.iterations() * kBatch);
  state.SetItemsProcessed(static_cast<std::int64_t>(items));
  state.counters["work_cpu_ns"] = static_cast<double>(alloc_cpu_ns + h.free_cpu_ns) / items;
  state.counters["alloc_cpu_ns"] = static_cast<double>(alloc_cpu_ns) / items;
  state.counters["free_cpu_ns"] = static_cast<double>(h.free_cpu_ns) / items;
  pc.finish(a, state);
}

// --- the price of a pool above the IRQs --------------------------------------------------------

std::atomic<std::uint64_t> g_irq_calls{0};
void irq_handler(void*) { g_irq_calls.fetch_add(1, std::memory_order_relaxed); }

// Thread 0 runs alloc+free pairs in the pool; thread 1 raises IRQ 13 on it. Reports the line's
// latency and how many deliveries the pool's level held back.
void irq_latency(benchmark::State& state, npp::Pool* pool) {
  static std::atomic<int> target{-1};
  static std::atomic<bool> running{false};
  if (state.thread_index() == 0) {
    target.store(cpu_index());
    irq::reset_line_stats();
    running.store(true);
    for (auto _ : state) {
      void* p = pool->malloc(256);
      static_cast<volatile char*>(p)[0] = 1;
      pool->free(p);
    }
    running.store(false);
    const irq::LineStats ls = irq::line_stats(13);
    state.counters["irq_delivered"] = static_cast<double>(ls.delivered);
    state.counters["irq_deferred_share"] = ls.delivered ? static_cast<double>(ls.deferred) / ls.delivered : 0;
    state.counters["irq_mean_latency_ns"] = ls.delivered ? static_cast<double>(ls.latency_ns) / ls.delivered : 0;
    state.counters["irq_max_latency_ns"] = static_cast<double>(ls.max_latency_ns);
    state.counters["irq_mean_delay_ns_deferred"] = ls.deferred ? static_cast<double>(ls.delay_ns) / ls.deferred : 0;
    state.SetItemsProcessed(state.iterations());
  } else {
    for (auto _ : state) {
      const int cpu = target.load();
      if (running.load(std::memory_order_relaxed) && cpu >= 0) irq::raise(13, cpu);
      for (int i = 0; i < 50; ++i) benchmark::DoNotOptimize(i);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // jemalloc needs more static TLS than glibc keeps spare for dlopen: ask for it, then start over.
  if (getenv("SMPLOCK_NPP_BENCH_REEXEC") == nullptr) {
    setenv("SMPLOCK_NPP_BENCH_REEXEC", "1", 1);
    setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536", 1);
    execv("/proc/self/exe", argv);
  }
  benchmark::Initialize(&argc, argv);
  static const std::vector<Allocator> allocators = load_allocators();
  // Grouped by scenario, every allocator side by side (run with
  // --benchmark_enable_random_interleaving=true to spread the machine's drift over all of them).
  for (int threads : {1, 2})
    for (long size : {16, 64, 256, 1600})
      for (const Allocator& a : allocators)
        benchmark::RegisterBenchmark(("pairs/" + a.name).c_str(), pairs, a)->Arg(size)->Threads(threads)->UseRealTime();
  for (bool fifo : {false, true})
    for (long n : {1000, 100000})
      for (const Allocator& a : allocators)
        benchmark::RegisterBenchmark(((fifo ? "batch_fifo/" : "batch_lifo/") + a.name).c_str(), batch, a, fifo)
            ->Arg(n)
            ->Unit(benchmark::kMicrosecond);
  for (const Allocator& a : allocators)
    benchmark::RegisterBenchmark(("prodcons/" + a.name).c_str(), prodcons, a)->Threads(2)->UseRealTime();
  for (const Allocator& a : allocators)
    benchmark::RegisterBenchmark(("xthread/" + a.name).c_str(), xthread, a)->UseRealTime()->Unit(benchmark::kMicrosecond);
  static npp::Pool high(static_cast<Level>(0xE8), "NP-high");
  irq::attach(13, irq_handler, nullptr);
  benchmark::RegisterBenchmark("irq_latency/pool_NP", irq_latency, &npp::Pool::default_pool())->Threads(2)->UseRealTime();
  benchmark::RegisterBenchmark("irq_latency/pool_0xE8", irq_latency, &high)->Threads(2)->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
