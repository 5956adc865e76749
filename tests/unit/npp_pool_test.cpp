// The non-paged pool (DESIGN §6), one behaviour per test: size classes, blocks and their sizes and
// alignment, large and huge blocks, quota, statistics, cross-CPU frees, the thread-exit hand-back,
// levels (a pool used with locks held, a pool above some IRQs used from their handlers), debug
// guard bands and the standard-container adapter.
#include <gtest/gtest.h>

#include <atomic>
#include <bit>
#include <cstring>
#include <list>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "npp/sizes.hpp"
#include "smplock/smplock.hpp"
#include "needs_cpus.hpp"

namespace smplock::npp {
namespace {

// Fills a block with a pattern derived from its address and checks it later.
void fill(void* p, std::size_t n, unsigned seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>(seed + i * 7);
}
bool check(const void* p, std::size_t n, unsigned seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<unsigned char>(seed + i * 7)) return false;
  return true;
}

TEST(NppClasses, FineClassesAreSixteenByteSteps) {
  for (std::size_t n = 1; n <= 1600; ++n) {
    const unsigned c = detail::class_of(n);
    EXPECT_EQ(detail::kClasses.size[c], (n + 15) / 16 * 16) << n;
  }
  EXPECT_EQ(detail::kClasses.size[detail::class_of(0)], 16u);
}

TEST(NppClasses, EveryRequestFitsItsClassAndTheClassBelowIsTooSmall) {
  for (std::size_t n = 1; n <= kSmallMax; ++n) {
    const unsigned c = detail::class_of(n);
    ASSERT_GE(c, 1u);
    ASSERT_LT(c, kSizeClasses);
    ASSERT_GE(detail::kClasses.size[c], n) << n;
    if (c > 1) ASSERT_LT(detail::kClasses.size[c - 1], n) << n;
  }
}

TEST(NppClasses, ReciprocalFindsTheBlockOfEveryOffset) {
  for (unsigned c = 1; c < kSizeClasses; ++c) {
    const std::size_t size = detail::kClasses.size[c];
    const std::size_t span = std::size_t{detail::kClasses.pages[c]} << detail::kPageShift;
    ASSERT_GE(span / size, detail::kMinBlocksPerSlab);
    for (std::size_t off = 0; off < span; ++off) {
      const std::size_t idx = (off * detail::kClasses.recip[c]) >> detail::kRecipShift;
      ASSERT_EQ(idx, off / size) << "class " << c << " offset " << off;
    }
  }
}

// The free fast path's start-of-block test (sizes.hpp): rotr(offset * inverse, shift) in 32 bits
// is below the slab's block count exactly at the start of a whole block, and is then its index.
TEST(NppClasses, ExactDivisionTestFindsEveryBlockStartAndNothingElse) {
  for (unsigned c = 1; c < kSizeClasses; ++c) {
    const std::uint32_t size = detail::kClasses.size[c];
    const std::uint32_t span = std::uint32_t{detail::kClasses.pages[c]} << detail::kPageShift;
    const std::uint32_t blocks = detail::kClasses.blocks[c];
    ASSERT_EQ(blocks, span / size) << "class " << c;
    for (std::uint32_t off = 0; off < span; ++off) {
      const std::uint32_t q = std::rotr(off * detail::kClasses.inverse[c], detail::kClasses.shift[c]);
      const bool start = off % size == 0 && off / size < blocks;
      ASSERT_EQ(q < blocks, start) << "class " << c << " offset " << off;
      if (start) ASSERT_EQ(q, off / size) << "class " << c << " offset " << off;
    }
  }
}

TEST(NppPool, BlocksAreAlignedDistinctAndKeepTheirContents) {
  std::vector<std::pair<void*, std::size_t>> blocks;
  for (std::size_t n = 0; n <= 3000; n += 7) {
    void* p = npp::malloc(n);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kAlignment, 0u);
    EXPECT_GE(usable_size(p), n);
    fill(p, n, static_cast<unsigned>(n));
    blocks.emplace_back(p, n);
  }
  std::set<void*> distinct;
  for (auto& [p, n] : blocks) {
    EXPECT_TRUE(check(p, n, static_cast<unsigned>(n))) << n;
    distinct.insert(p);
  }
  EXPECT_EQ(distinct.size(), blocks.size());
  for (auto& [p, n] : blocks) npp::free(p);
}

TEST(NppPool, UsableSizeIsTheClassSize) {
  for (std::size_t n : {1u, 16u, 17u, 100u, 1600u, 1601u, 5000u, 16384u}) {
    void* p = npp::malloc(n);
    EXPECT_EQ(usable_size(p), good_size(n)) << n;
    npp::free(p);
  }
}

TEST(NppPool, FreedBlockIsReusedFirst) {
  void* a = npp::malloc(64);
  npp::free(a);
  void* b = npp::malloc(64);
  EXPECT_EQ(a, b);  // LIFO: the hottest block comes back
  npp::free(b);
}

TEST(NppPool, LargeAndHugeBlocksRoundTrip) {
  for (std::size_t n : {std::size_t{16385}, std::size_t{100000}, std::size_t{1} << 20, std::size_t{4} << 20,
                        (std::size_t{4} << 20) + 1, std::size_t{40} << 20}) {
    void* p = npp::malloc(n);
    ASSERT_NE(p, nullptr);
    EXPECT_GE(usable_size(p), n);
    EXPECT_EQ(usable_size(p), good_size(n)) << n;
    fill(p, 4096, 3);
    static_cast<unsigned char*>(p)[n - 1] = 0x5A;
    EXPECT_TRUE(check(p, 4096, 3));
    npp::free(p);
  }
  const Stats st = stats();
  EXPECT_GE(st.large_allocs, 4u);
  EXPECT_GE(st.huge_allocs, 2u);
}

TEST(NppPool, FreedLargePagesAreReused) {
  void* a = npp::malloc(200000);
  npp::free(a);
  void* b = npp::malloc(200000);
  EXPECT_EQ(a, b);
  npp::free(b);
}

TEST(NppPool, AlignedBlocksHonourTheirAlignment) {
  std::vector<void*> blocks;
  for (std::size_t align = 16; align <= (std::size_t{1} << 20); align *= 2) {
    for (std::size_t n : {std::size_t{1}, std::size_t{100}, std::size_t{5000}, std::size_t{70000}}) {
      void* p = aligned_malloc(n, align);
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % align, 0u) << align << " " << n;
      EXPECT_GE(usable_size(p), n);
      fill(p, n, 9);
      blocks.push_back(p);
    }
  }
  for (void* p : blocks) npp::free(p);
  EXPECT_EQ(aligned_malloc(10, 24), nullptr);  // not a power of two
}

TEST(NppQuota, ChargesAndCreditsTheBlockSize) {
  Quota q(10000);
  void* p = npp::malloc(100, q);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(q.used(), good_size(100));
  void* big = npp::malloc(50000, q);  // would pass the limit
  EXPECT_EQ(big, nullptr);
  EXPECT_EQ(q.used(), good_size(100));  // the failed charge changed nothing
  npp::free(p, q);
  EXPECT_EQ(q.used(), 0u);
}

TEST(NppQuota, FailsExactlyAtTheLimit) {
  Quota q(4 * 64);
  std::vector<void*> blocks;
  for (int i = 0; i < 4; ++i) blocks.push_back(npp::malloc(64, q));
  for (void* p : blocks) EXPECT_NE(p, nullptr);
  const Stats before = stats();
  EXPECT_EQ(npp::malloc(1, q), nullptr);
  EXPECT_EQ(stats().mallocs, before.mallocs);  // nothing half done: no block was taken
  for (void* p : blocks) npp::free(p, q);
  EXPECT_EQ(q.used(), 0u);
}

TEST(NppQuota, ConcurrentChargesNeverPassTheLimit) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Quota q(1000 * 32);
  std::atomic<int> got{0};
  std::vector<std::thread> threads;
  std::vector<std::vector<void*>> kept(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 600; ++i)
        if (void* p = npp::malloc(32, q)) {
          kept[t].push_back(p);
          got.fetch_add(1);
        }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(got.load(), 1000);
  EXPECT_EQ(q.used(), 1000u * 32);
  for (auto& v : kept)
    for (void* p : v) npp::free(p, q);
  EXPECT_EQ(q.used(), 0u);
}

TEST(NppStats, CountsCallsBytesAndPeak) {
  Pool pool(Level::NP, "NP-stats");
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(pool.malloc(100));
  Stats st = pool.stats();
  EXPECT_EQ(st.mallocs, 1000u);
  EXPECT_EQ(st.frees, 0u);
  EXPECT_EQ(st.bytes_in_use, 1000u * 112);
  EXPECT_EQ(st.classes[detail::class_of(100)].allocs, 1000u);
  EXPECT_EQ(st.classes[detail::class_of(100)].size, 112u);
  for (void* p : blocks) pool.free(p);
  st = pool.stats();
  EXPECT_EQ(st.frees, 1000u);
  EXPECT_EQ(st.bytes_in_use, 0u);
  EXPECT_GE(st.peak_bytes, 1000u * 112);
  EXPECT_GT(st.lock_acquisitions, 0u);
  EXPECT_LT(st.lock_acquisitions, 20u);  // a few slabs and drains, not one per call
  EXPECT_GT(st.fast_hit_rate(), 0.9);
}

TEST(NppStats, SteadyStateTakesNoLock) {
  Pool pool(Level::NP, "NP-steady");
  for (int i = 0; i < 100; ++i) pool.free(pool.malloc(48));  // warm up
  const Stats before = pool.stats();
  for (int i = 0; i < 100000; ++i) pool.free(pool.malloc(48));
  const Stats after = pool.stats();
  EXPECT_EQ(after.lock_acquisitions, before.lock_acquisitions);
  EXPECT_EQ(after.slow_calls, before.slow_calls);
  EXPECT_EQ(after.fast_hits - before.fast_hits, 200000u);
}

TEST(NppRemote, BlocksFreedElsewhereGoBackToTheirOwner) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Pool pool(Level::NP, "NP-remote");
  constexpr int kBlocks = 4096;
  std::vector<void*> blocks;
  for (int i = 0; i < kBlocks; ++i) {
    blocks.push_back(pool.malloc(256));
    fill(blocks.back(), 256, static_cast<unsigned>(i));
  }
  std::thread([&] {
    (void)cpu_index();  // a CPU (a thread that is none frees lock-free too: see ThreadsThatAreNoCpuMayFree)
    for (int i = 0; i < kBlocks; ++i) {
      ASSERT_TRUE(check(blocks[i], 256, static_cast<unsigned>(i)));
      pool.free(blocks[i]);
    }
  }).join();
  const Stats st = pool.stats();
  EXPECT_EQ(st.remote_frees, static_cast<std::uint64_t>(kBlocks));
  EXPECT_GT(st.remote_batches, 0u);
  EXPECT_EQ(st.bytes_in_use, 0u);
  // The owner gets its blocks back: allocating them again maps no new memory.
  const std::uint64_t mapped = st.bytes_mapped;
  for (int i = 0; i < kBlocks; ++i) blocks[i] = pool.malloc(256);
  EXPECT_EQ(pool.stats().bytes_mapped, mapped);
  for (void* p : blocks) pool.free(p);
}

TEST(NppRemote, AThreadsCacheIsHandedBackWhenItEnds) {
  Pool pool(Level::NP, "NP-exit");
  constexpr int kBlocks = 3000;
  std::thread([&] {
    std::vector<void*> v;
    for (int i = 0; i < kBlocks; ++i) v.push_back(pool.malloc(512));
    for (void* p : v) pool.free(p);
  }).join();
  const std::uint64_t mapped = pool.stats().bytes_mapped;
  // Another thread (likely another CPU index) finds the blocks in the depot, not new pages.
  std::vector<void*> v;
  std::thread t([&] {
    for (int i = 0; i < kBlocks; ++i) v.push_back(pool.malloc(512));
  });
  std::thread other([] {});  // keep the index of the first thread busy for a moment
  t.join();
  other.join();
  const std::uint64_t grown = pool.stats().bytes_mapped - mapped;
  EXPECT_LT(grown, 2 * 65536 + 16384u);  // at most the new CPU's cache record and a slab
  for (void* p : v) pool.free(p);
}

TEST(NppRemote, ThreadsThatAreNoCpuMayFree) {
  // A thread that never used the library frees blocks: they go back lock-free, without attaching.
  Pool pool(Level::NP, "NP-stray");
  std::vector<void*> v;
  for (int i = 0; i < 100; ++i) v.push_back(pool.malloc(40));
  void* large = pool.malloc(100000);
  const unsigned before = cpus_attached();
  std::thread([&] {
    for (void* p : v) pool.free(p);
    pool.free(large);
  }).join();
  EXPECT_EQ(cpus_attached(), before);
  void* again = pool.malloc(100000);  // the deferred large free is done by the next lock holder
  EXPECT_EQ(again, large);
  pool.free(again);
  EXPECT_EQ(pool.stats().bytes_in_use, 0u);
  // The small blocks went to their owner's inbox and come back to it without new memory.
  const std::uint64_t mapped = pool.stats().bytes_mapped;
  for (int i = 0; i < 100; ++i) v[i] = pool.malloc(40);
  EXPECT_EQ(pool.stats().bytes_mapped, mapped);
  for (void* p : v) pool.free(p);
}

TEST(NppLevels, PoolWorksBelowItsLevelWithLocksHeld) {
  Lock dv(Level::DV, "DV-test");
  Lock se(Level::SE, "SE-test");
  Guard g1(dv);
  Guard g2(se);
  void* p = npp::malloc(77);
  EXPECT_EQ(current_level(), Level::SE);
  npp::free(p);
  EXPECT_EQ(current_level(), Level::SE);
}

TEST(NppLevels, LevelIsRestoredAfterEveryPath) {
  EXPECT_EQ(current_level(), Level::Null);
  std::vector<void*> v;
  for (int i = 0; i < 5000; ++i) v.push_back(npp::malloc(static_cast<std::size_t>(i % 2000)));
  v.push_back(npp::malloc(1 << 20));
  v.push_back(npp::malloc(10 << 20));
  EXPECT_EQ(current_level(), Level::Null);
  for (void* p : v) npp::free(p);
  EXPECT_EQ(current_level(), Level::Null);
  set_softint(false);
  npp::free(npp::malloc(10));
  EXPECT_EQ(current_level(), Level::Softint);
  set_softint(true);
}

TEST(NppLevels, PoolAboveSomeIrqsServesTheirHandlers) {
  // IRQ 13 sits at 0xE7, below a pool at 0xE8: its handler may use that pool.
  static Pool high(static_cast<Level>(0xE8), "NP-high");
  static std::atomic<int> ok{0};
  auto handler = +[](void*) {
    void* p = high.malloc(200);
    fill(p, 200, 5);
    if (check(p, 200, 5)) ok.fetch_add(1);
    high.free(p);
  };
  irq::attach(13, handler, nullptr);
  for (int i = 0; i < 100; ++i) irq::raise(13, cpu_index());
  irq::detach(13, handler, nullptr);
  EXPECT_EQ(ok.load(), 100);
  // Inside the high pool the CPU is at its level: IRQ 13 is held back until the call returns.
  EXPECT_EQ(current_level(), Level::Null);
}

TEST(NppDebug, GuardedBlocksRoundTrip) {
  set_debug(true);
  std::vector<void*> v;
  for (std::size_t n = 0; n < 3000; n += 11) {
    void* p = npp::malloc(n);
    EXPECT_EQ(usable_size(p), n);
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(p) % kAlignment, 0u);
    fill(p, n, 1);
    v.push_back(p);
  }
  set_debug(false);  // blocks keep their kind: freed with the checks although debug is off now
  for (void* p : v) npp::free(p);
}

TEST(NppDebug, GuardedBlockWithQuotaCreditsTheQuota) {
  Quota q(100000);
  set_debug(true);
  void* p = npp::malloc(100, q);
  set_debug(false);
  EXPECT_EQ(q.used(), good_size(100));
  npp::free(p, q);
  EXPECT_EQ(q.used(), 0u);
}

TEST(NppAllocator, StandardContainersWork) {
  std::vector<int, Allocator<int>> v;
  for (int i = 0; i < 100000; ++i) v.push_back(i);
  long long sum = 0;
  for (int x : v) sum += x;
  EXPECT_EQ(sum, 99999LL * 100000 / 2);
  std::map<int, std::string, std::less<int>, Allocator<std::pair<const int, std::string>>> m;
  for (int i = 0; i < 1000; ++i) m[i] = std::to_string(i);
  EXPECT_EQ(m[500], "500");
  Pool pool(Level::NP, "NP-list");
  std::list<double, Allocator<double>> l{Allocator<double>(pool)};
  for (int i = 0; i < 100; ++i) l.push_back(i);
  EXPECT_EQ(l.size(), 100u);
  EXPECT_GE(pool.stats().mallocs, 100u);
  EXPECT_FALSE(Allocator<int>() == Allocator<int>(pool));
  struct alignas(64) Wide { char c[64]; };
  std::vector<Wide, Allocator<Wide>> w(10);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(w.data()) % 64, 0u);
}

TEST(NppPool, FreeFindsTheBlocksPool) {
  Pool a(Level::NP, "NP-a");
  void* p = a.malloc(100);
  EXPECT_TRUE(a.owns(p));
  EXPECT_FALSE(Pool::default_pool().owns(p));
  npp::free(p);  // the default pool's free finds pool a by address
  EXPECT_EQ(a.stats().frees, 1u);
}

}  // namespace
}  // namespace smplock::npp
