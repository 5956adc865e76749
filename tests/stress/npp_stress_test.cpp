// The pool under real threads and interrupts, bounded in time: threads allocate, free and hand
// blocks to each other (every block's contents checked when it is freed), and interrupt handlers
// use a pool above their level while the interrupted code is inside that same pool.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "npp/pool.hpp"
#include "smplock/smplock.hpp"
#include "needs_cpus.hpp"

namespace smplock::npp {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRunTime = std::chrono::milliseconds(1500);

struct Stamp {
  std::uint32_t size;
  std::uint32_t seed;
};

void* make_block(Pool& pool, std::uint32_t size, std::uint32_t seed) {
  auto* p = static_cast<unsigned char*>(pool.malloc(size));
  auto* st = reinterpret_cast<Stamp*>(p);
  st->size = size;
  st->seed = seed;
  for (std::uint32_t i = sizeof(Stamp); i < size; ++i) p[i] = static_cast<unsigned char>(seed * 31 + i);
  return p;
}

bool check_and_free(Pool& pool, void* block) {
  auto* p = static_cast<unsigned char*>(block);
  const Stamp st = *reinterpret_cast<Stamp*>(p);
  bool ok = st.size >= sizeof(Stamp);
  for (std::uint32_t i = sizeof(Stamp); ok && i < st.size; ++i)
    ok = p[i] == static_cast<unsigned char>(st.seed * 31 + i);
  pool.free(p);
  return ok;
}

struct Mailbox {
  std::mutex m;
  std::vector<void*> blocks;
};

void run_exchange(Pool& pool, unsigned threads, std::uint32_t max_size) {
  std::vector<Mailbox> boxes(threads);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> bad{0}, ops{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      std::mt19937 rng(t + 1);
      std::vector<void*> mine;
      std::uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const unsigned what = rng() % 8;
        if (what < 4 || mine.empty()) {
          const std::uint32_t size = sizeof(Stamp) + rng() % max_size;
          mine.push_back(make_block(pool, size, static_cast<std::uint32_t>(rng())));
        } else if (what < 6) {
          const std::size_t i = rng() % mine.size();
          if (!check_and_free(pool, mine[i])) bad.fetch_add(1);
          mine[i] = mine.back();
          mine.pop_back();
        } else if (what == 6) {  // hand a block to another thread
          Mailbox& box = boxes[rng() % threads];
          std::lock_guard g(box.m);
          box.blocks.push_back(mine.back());
          mine.pop_back();
        } else {  // free what others handed us
          std::vector<void*> got;
          {
            std::lock_guard g(boxes[t].m);
            got.swap(boxes[t].blocks);
          }
          for (void* p : got)
            if (!check_and_free(pool, p)) bad.fetch_add(1);
        }
        if (mine.size() > 4000)
          while (mine.size() > 100) {
            if (!check_and_free(pool, mine.back())) bad.fetch_add(1);
            mine.pop_back();
          }
        ++n;
      }
      for (void* p : mine)
        if (!check_and_free(pool, p)) bad.fetch_add(1);
      ops.fetch_add(n);
    });
  std::this_thread::sleep_for(kRunTime);
  stop.store(true);
  for (auto& w : workers) w.join();
  for (auto& box : boxes)
    for (void* p : box.blocks)
      if (!check_and_free(pool, p)) bad.fetch_add(1);
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(ops.load(), 100u);  // a few hundred under TSan with 300 KB blocks
  const Stats st = pool.stats();
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_EQ(st.mallocs, st.frees);
  std::printf("  %u threads, sizes up to %u: %llu ops, lock rate %.4f%%, remote frees %llu\n", threads, max_size,
              static_cast<unsigned long long>(ops.load()), 100.0 * st.lock_rate(),
              static_cast<unsigned long long>(st.remote_frees));
}

TEST(NppStress, ThreadsExchangeSmallBlocks) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Pool pool(Level::NP, "NP-stress");
  run_exchange(pool, 4, 1600);
}

TEST(NppStress, ThreadsExchangeBlocksOfEverySize) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Pool pool(Level::NP, "NP-stress");
  run_exchange(pool, 3, 300000);
}

TEST(NppStress, ThreadsComeAndGo) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Pool pool(Level::NP, "NP-churn");
  std::atomic<std::uint64_t> bad{0};
  std::vector<void*> survivors;
  std::mutex m;
  const auto end = Clock::now() + kRunTime;
  int rounds = 0;
  while (Clock::now() < end) {
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
      ts.emplace_back([&, t] {
        std::vector<void*> v;
        for (int i = 0; i < 500; ++i) v.push_back(make_block(pool, 16 + (i * 13 + t) % 900, i));
        std::lock_guard g(m);
        for (int i = 0; i < 500; i += 2) survivors.push_back(v[i]);  // outlive their thread
        for (int i = 1; i < 500; i += 2)
          if (!check_and_free(pool, v[i])) bad.fetch_add(1);
      });
    for (auto& t : ts) t.join();
    for (void* p : survivors)
      if (!check_and_free(pool, p)) bad.fetch_add(1);
    survivors.clear();
    ++rounds;
  }
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(pool.stats().bytes_in_use, 0u);
  // Caches of ended threads went back: memory does not grow with the number of rounds.
  EXPECT_LT(pool.stats().bytes_mapped, std::uint64_t{64} << 20) << rounds << " rounds";
}

// Issue 11, defect 3 under threads: producers allocate long runs of blocks and end; two
// consumers free them all at once (remote frees to vacant CPUs: long orphan chains) while they
// allocate again (refills from those chains, their rests spilled or handed back to the orphans
// concurrently). Bounded by count; every block checked; the walk bounds hold; nothing is lost.
TEST(NppStress, LongOrphanChainsUnderConcurrentRefills) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Pool pool(Level::NP, "NP-orphans");
  detail::PoolState& ps = *pool.state();
  std::atomic<std::uint64_t> bad{0};
  constexpr int kRounds = 4, kProducers = 3, kPerProducer = 20000;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::vector<void*>> made(kProducers);
    std::vector<std::thread> producers;
    for (int t = 0; t < kProducers; ++t)
      producers.emplace_back([&, t] {
        for (int i = 0; i < kPerProducer; ++i) made[t].push_back(make_block(pool, 48, static_cast<std::uint32_t>(i + t)));
      });
    for (auto& t : producers) t.join();  // their caches are vacant now
    std::vector<std::thread> consumers;
    for (int c = 0; c < 2; ++c)
      consumers.emplace_back([&, c] {
        std::vector<void*> mine;
        for (int t = c; t < kProducers; t += 2)
          for (std::size_t i = 0; i < made[t].size(); ++i) {
            if (!check_and_free(pool, made[t][i])) bad.fetch_add(1);
            if (i % 2 == 0) mine.push_back(make_block(pool, 48, static_cast<std::uint32_t>(i)));
          }
        for (void* p : mine)
          if (!check_and_free(pool, p)) bad.fetch_add(1);
      });
    for (auto& t : consumers) t.join();
  }
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_EQ(pool.stats().bytes_in_use, 0u);
  EXPECT_LE(ps.locked_walk_max.load(), 1024u + 32u);
  EXPECT_LE(ps.raised_walk_max.load(), 1024u + 32u);
  // Freed blocks were found again: a round takes about 4.5 MiB of blocks (18 MiB for four).
  EXPECT_LT(pool.stats().bytes_mapped, std::uint64_t{12} << 20);
  std::printf("  %d rounds: %llu bytes mapped\n", kRounds, static_cast<unsigned long long>(pool.stats().bytes_mapped));
}

// A pool above IRQ 13's level, used both by a thread and by IRQ 13's handler on that thread's CPU,
// raised from another thread as fast as it can: the level keeps the two apart.
Pool* g_high = nullptr;
std::atomic<std::uint64_t> g_handler_calls{0}, g_handler_bad{0};

void high_handler(void*) {
  void* a = make_block(*g_high, 100, 7);
  void* b = make_block(*g_high, 700, 8);
  if (!check_and_free(*g_high, a) || !check_and_free(*g_high, b)) g_handler_bad.fetch_add(1);
  g_handler_calls.fetch_add(1, std::memory_order_relaxed);
}

TEST(NppStress, InterruptHandlersShareAPoolAboveTheirLevel) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Pool high(static_cast<Level>(0xE8), "NP-high");
  g_high = &high;
  irq::attach(13, high_handler, nullptr);
  std::atomic<int> target{-1};
  std::atomic<bool> stop{false};
  std::uint64_t bad = 0, loops = 0;
  std::thread worker([&] {
    target.store(cpu_index());
    std::vector<void*> v;
    while (!stop.load(std::memory_order_relaxed)) {
      for (int i = 0; i < 64; ++i) v.push_back(make_block(high, 16 + (i * 40) % 1500, i));
      for (void* p : v)
        if (!check_and_free(high, p)) ++bad;
      v.clear();
      ++loops;
    }
    target.store(-1);
  });
  while (target.load() < 0) std::this_thread::yield();
  const auto end = Clock::now() + kRunTime;
  std::uint64_t raised = 0;
  while (Clock::now() < end) {
    const int cpu = target.load();
    if (cpu >= 0) {
      irq::raise(13, cpu);
      ++raised;
    }
    if (raised % 64 == 0) std::this_thread::yield();
  }
  stop.store(true);
  worker.join();
  irq::detach(13, high_handler, nullptr);
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(g_handler_bad.load(), 0u);
  EXPECT_GT(g_handler_calls.load(), 0u);
  EXPECT_EQ(high.stats().bytes_in_use, 0u);
  std::printf("  %llu worker loops, %llu raises, %llu handler calls\n", static_cast<unsigned long long>(loops),
              static_cast<unsigned long long>(raised), static_cast<unsigned long long>(g_handler_calls.load()));
}

}  // namespace
}  // namespace smplock::npp
