// Nested acquisitions under real concurrency: threads take random chains of locks at rising levels
// (some with try_acquire, some through std::lock_guard), and bump plain (non-atomic) counters
// guarded by each lock. At the end every counter must equal the sum of the increments the threads
// say they made: a lost update means mutual exclusion or memory ordering failed.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

using Clock = std::chrono::steady_clock;

struct Guarded {
  Lock lock;
  long value = 0;
  Guarded(Level l, const char* n) : lock(l, n) {}
};

// Three tiers: several locks of one level per tier (never two of one tier held together, R2).
constexpr std::array<Level, 4> kTiers = {Level::PM, Level::PS, Level::TP, Level::NP};
constexpr int kPerTier = 3;

void run_chains(int threads, std::chrono::milliseconds budget, long max_iterations) {
#ifdef SMPLOCK_UNIPROCESSOR
  threads = 1;  // one CPU is all the uniprocessor build allows
#endif
  std::vector<std::unique_ptr<Guarded>> locks;
  for (Level l : kTiers)
    for (int i = 0; i < kPerTier; ++i) locks.push_back(std::make_unique<Guarded>(l, level_name(l).data()));
  std::vector<std::vector<long>> expected(threads, std::vector<long>(locks.size(), 0));
  std::vector<long> iterations(threads, 0);
  const auto deadline = Clock::now() + budget;

  auto body = [&](int t) {
    std::mt19937 rng(1234 + t);
    long n = 0;
    for (; n < max_iterations && (n % 64 != 0 || Clock::now() < deadline); ++n) {
      // A chain: for each tier, maybe pick one lock of it; always rising.
      Guarded* chain[kTiers.size()];
      Level prev[kTiers.size()];
      int depth = 0;
      for (std::size_t tier = 0; tier < kTiers.size(); ++tier) {
        if (rng() % 3 == 0) continue;
        chain[depth++] = locks[tier * kPerTier + rng() % kPerTier].get();
      }
      for (int d = 0; d < depth; ++d) {
        if (rng() % 4 == 0) {
          while (!chain[d]->lock.try_acquire(prev[d])) std::this_thread::yield();
        } else {
          prev[d] = chain[d]->lock.acquire();
        }
        EXPECT_EQ(current_level(), chain[d]->lock.level());
        chain[d]->value += 1;
      }
      for (int d = depth; d-- > 0;) {
        chain[d]->value += 2;
        chain[d]->lock.release(prev[d]);
      }
      for (int d = 0; d < depth; ++d)
        for (std::size_t i = 0; i < locks.size(); ++i)
          if (locks[i].get() == chain[d]) expected[t][i] += 3;
      // Every few rounds, a guarded increment through the standard interface.
      if (n % 16 == 0) {
        std::lock_guard g(locks[0]->lock);
        locks[0]->value += 1;
        expected[t][0] += 1;
      }
    }
    iterations[t] = n;
    EXPECT_EQ(current_level(), Level::Null);
  };

  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(body, t);
  for (auto& th : pool) th.join();

  long total_iterations = 0;
  for (long n : iterations) total_iterations += n;
  EXPECT_GT(total_iterations, threads * 100L) << "the stress ran too few rounds to mean anything";
  for (std::size_t i = 0; i < locks.size(); ++i) {
    long sum = 0;
    for (int t = 0; t < threads; ++t) sum += expected[t][i];
    EXPECT_EQ(locks[i]->value, sum) << "lock " << i << " (" << locks[i]->lock.name() << ") lost updates";
    EXPECT_EQ(locks[i]->lock.owner(), -1);
  }
}

TEST(StressNested, FourThreadsRandomChains) { run_chains(4, std::chrono::milliseconds(1500), 3000000); }

TEST(StressNested, EightThreadsOnTwoCoresParkAndWake) { run_chains(8, std::chrono::milliseconds(1500), 3000000); }

TEST(StressNested, OneHotLockManyThreadsExactCount) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs several CPUs";
#endif
  Lock hot(Level::NP, "hot");
  long counter = 0;
  constexpr int kThreads = 6;
  constexpr long kEach = 40000;
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&] {
      for (long i = 0; i < kEach; ++i) {
        const Level p = hot.acquire();
        ++counter;
        hot.release(p);
      }
    });
  for (auto& th : pool) th.join();
  EXPECT_EQ(counter, kThreads * kEach);
}

}  // namespace
}  // namespace smplock
