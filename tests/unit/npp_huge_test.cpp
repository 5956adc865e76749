// The pool's huge blocks (above 4 MiB, a mapping each) and the huge cache (issue 16): a freed huge
// block's mapping is kept and reused, pieces are gathered into one block without fresh pages,
// calloc of reused memory is zero, realloc resizes a huge block in place or by moving its pages
// and keeps its contents, and the cache stays within its bounds (bytes and pieces). Memory is
// measured with the pool's own bytes_mapped and /proc/self/statm, never with time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "needs_cpus.hpp"
#include "npp/pool.hpp"
#include "npp/sizes.hpp"
#include "smplock/smplock.hpp"

namespace smplock::npp {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

// Under a sanitizer the resident set also holds its shadow memory, which does not follow the
// application's pages back to the OS: the resident-set checks are made only without one (the
// pool's own bytes_mapped is checked either way).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kResidentIsOurs = false;
#else
constexpr bool kResidentIsOurs = true;
#endif

// Resident bytes of this process (/proc/self/statm, second field).
std::size_t resident_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

void fill(void* p, std::size_t n, unsigned seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += 512) b[i] = static_cast<unsigned char>(seed + i / 512 * 7);
  b[n - 1] = static_cast<unsigned char>(seed ^ 0x5A);
}
bool check(const void* p, std::size_t n, unsigned seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; i += 512)
    if (b[i] != static_cast<unsigned char>(seed + i / 512 * 7)) return false;
  return true;
}
bool all_zero(const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

TEST(NppHuge, AFreedHugeBlockIsReusedWithoutANewMapping) {
  Pool pool(Level::NP, "NP-huge-reuse");
  constexpr std::size_t kSize = 8 * kMiB + 12345;
  void* a = pool.malloc(kSize);
  fill(a, kSize, 1);
  const std::uint64_t mapped = pool.stats().bytes_mapped;
  pool.free(a);
  EXPECT_EQ(pool.stats().bytes_mapped, mapped) << "the freed mapping is kept";
  void* b = pool.malloc(kSize);
  EXPECT_EQ(b, a) << "the same mapping, reused";
  EXPECT_EQ(pool.stats().bytes_mapped, mapped) << "no new mapping";
  pool.free(b);
  // A smaller huge block is the head of the same piece.
  void* c = pool.malloc(6 * kMiB);
  EXPECT_EQ(c, a);
  EXPECT_EQ(pool.stats().bytes_mapped, mapped);
  pool.free(c);
  EXPECT_EQ(pool.stats().huge_allocs, 3u);
}

// Two pieces that are not neighbours (a live block lies between them) make one block bigger than
// either: their pages are moved into it, so it costs no fresh memory.
TEST(NppHuge, PiecesAreGatheredIntoALargerBlockWithoutFreshPages) {
  Pool pool(Level::NP, "NP-huge-gather");
  constexpr std::size_t kSize = 6 * kMiB;
  void* a = pool.malloc(kSize);
  void* between = pool.malloc(5 * kMiB);
  void* b = pool.malloc(kSize);
  void* guard = pool.malloc(5 * kMiB);
  std::memset(a, 0x11, kSize);
  std::memset(b, 0x22, kSize);
  std::memset(between, 0x33, 5 * kMiB);
  pool.free(a);
  pool.free(b);
  const std::uint64_t mapped = pool.stats().bytes_mapped;
  const std::size_t resident = resident_bytes();
  constexpr std::size_t kBig = 11 * kMiB;
  auto* c = static_cast<unsigned char*>(pool.malloc(kBig));
  ASSERT_NE(c, nullptr);
  std::memset(c, 0x44, kBig);
  EXPECT_EQ(pool.stats().bytes_mapped, mapped) << "the new block is made of the two pieces";
  // Writing all 11 MiB committed (nearly) nothing new: the pages were the pieces' (slack for
  // whatever else the process touched meanwhile).
  if (kResidentIsOurs) EXPECT_LE(resident_bytes(), resident + 2 * kMiB);
  EXPECT_TRUE(check(c, 0, 0));
  for (std::size_t i = 0; i < kBig; i += 4096) ASSERT_EQ(c[i], 0x44);
  for (std::size_t i = 0; i < 5 * kMiB; i += 4096) ASSERT_EQ(static_cast<unsigned char*>(between)[i], 0x33);
  pool.free(c);
  pool.free(between);
  pool.free(guard);
}

TEST(NppHuge, CallocOfReusedHugeMemoryIsZero) {
  detail::PoolState& ps = detail::default_state();
  const std::uint64_t reuses = ps.huge_reuses.load();
  // The same size (the piece is reused whole), then a larger one made of pieces.
  for (std::size_t n : {10 * kMiB, 10 * kMiB + 4096, 23 * kMiB}) {
    void* p = npp::malloc(n);
    void* q = npp::malloc(n / 2 + 5 * kMiB);
    std::memset(p, 0xA5, n);
    std::memset(q, 0xA5, n / 2 + 5 * kMiB);
    npp::free(p);
    npp::free(q);
    void* z = detail::c_calloc(n);
    ASSERT_NE(z, nullptr);
    EXPECT_TRUE(all_zero(z, n)) << n;
    npp::free(z);
  }
  EXPECT_GE(ps.huge_reuses.load(), reuses + 3) << "every calloc above reused cached memory";
}

TEST(NppHuge, ReallocResizesAHugeBlockAndKeepsItsContents) {
  const std::uint64_t huge_allocs = stats().huge_allocs;
  auto* p = static_cast<unsigned char*>(detail::c_realloc(nullptr, 5 * kMiB));
  ASSERT_NE(p, nullptr);
  fill(p, 5 * kMiB, 7);
  p = static_cast<unsigned char*>(detail::c_realloc(p, 40 * kMiB));  // grows (mremap)
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(check(p, 5 * kMiB, 7));
  EXPECT_GE(usable_size(p), 40 * kMiB);
  fill(p, 40 * kMiB, 9);
  p = static_cast<unsigned char*>(detail::c_realloc(p, 12 * kMiB));  // shrinks in place
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(check(p, 12 * kMiB, 9));
  EXPECT_GE(usable_size(p), 12 * kMiB);
  EXPECT_LT(usable_size(p), 13 * kMiB) << "the tail went back";
  EXPECT_EQ(stats().huge_allocs, huge_allocs + 1) << "resized, not reallocated";
  p = static_cast<unsigned char*>(detail::c_realloc(p, 100000));  // to a page-heap block: a copy
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(check(p, 100000 - 1, 9));
  p = static_cast<unsigned char*>(detail::c_realloc(p, 9 * kMiB));  // and back to a huge one
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(check(p, 100000 - 1, 9));
  EXPECT_EQ(detail::c_realloc(p, 0), nullptr);  // frees
}

// However many huge blocks are freed, the cache keeps at most its bound: 4 x the largest block
// freed (here 8 MiB and a page), at most kHugeCacheMaxBytes, in at most kHugeCacheSlots pieces.
TEST(NppHuge, TheCacheStaysWithinItsBound) {
  Pool pool(Level::NP, "NP-huge-bound");
  constexpr std::size_t kSize = 8 * kMiB;
  constexpr std::size_t kLen = kSize + 4096;  // the mapping: the record's page and the block
  constexpr int kCount = 40;
  pool.free(pool.malloc(64));  // the CPU's cache is mapped on first use: not the huge cache's
  const std::uint64_t mapped = pool.stats().bytes_mapped;
  const std::size_t resident = resident_bytes();
  std::vector<void*> blocks;
  for (int i = 0; i < kCount; ++i) {
    blocks.push_back(pool.malloc(kSize));
    std::memset(blocks.back(), i + 1, kSize);
  }
  EXPECT_GE(pool.stats().bytes_mapped, mapped + kCount * kSize);
  for (void* p : blocks) pool.free(p);
  const std::uint64_t kept = pool.stats().bytes_mapped - mapped;
  EXPECT_LE(kept, 4 * kLen) << "mapped bytes the cache kept";
  EXPECT_GE(kept, kLen) << "the cache kept something";
  if (kResidentIsOurs)
    EXPECT_LE(resident_bytes(), resident + 4 * kLen + 8 * kMiB) << "resident after freeing " << kCount << " blocks";

  // A block above half the largest bound goes straight back (with the pieces it was made of).
  const std::uint64_t before = pool.stats().bytes_mapped;
  void* big = pool.malloc(detail::kHugeCacheMaxBytes / 2 + kMiB);
  pool.free(big);
  EXPECT_LE(pool.stats().bytes_mapped, before);
  EXPECT_EQ(pool.stats().bytes_mapped, mapped) << "nothing kept";

  // The default pool's cache, after blocks of many sizes with live ones between them (so that
  // they cannot join): within both bounds.
  detail::PoolState& ps = detail::default_state();
  std::vector<void*> freed, live;
  for (int i = 0; i < 3 * static_cast<int>(detail::kHugeCacheSlots); ++i) {
    freed.push_back(npp::malloc(4 * kMiB + static_cast<std::size_t>(i) * 300000));
    live.push_back(npp::malloc(5 * kMiB));
  }
  for (void* p : freed) npp::free(p);
  {
    const Level prev = ps.lock.acquire();
    EXPECT_LE(ps.huge_cached, detail::kHugeCacheSlots);
    EXPECT_LE(ps.huge_cache_bytes, ps.huge_cache_limit);
    EXPECT_LE(ps.huge_cache_limit, detail::kHugeCacheMaxBytes);
    ps.lock.release(prev);
  }
  for (void* p : live) npp::free(p);
}

// Two threads allocating, filling, checking and freeing huge blocks of varied sizes through the
// one cache (split, gathered and whole reuse all happen): no block is handed out twice and every
// block keeps what its owner wrote. Bounded: 2 x 60 blocks.
TEST(NppHuge, TwoThreadsShareTheCacheWithoutLosingContents) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  std::atomic<int> bad{0};
  auto worker = [&](unsigned seed) {
    void* live[3] = {};
    std::size_t len[3] = {};
    for (unsigned i = 0; i < 60; ++i) {
      const unsigned k = (i * 7 + seed) % 3;
      if (live[k] != nullptr) {
        if (!check(live[k], len[k], seed + k)) bad.fetch_add(1);
        npp::free(live[k]);
      }
      len[k] = 4 * kMiB + ((i * 2654435761u + seed) % (6 * kMiB));
      live[k] = npp::malloc(len[k]);
      fill(live[k], len[k], seed + k);
    }
    for (unsigned k = 0; k < 3; ++k) {
      if (!check(live[k], len[k], seed + k)) bad.fetch_add(1);
      npp::free(live[k]);
    }
  };
  std::thread a(worker, 11u), b(worker, 101u);
  a.join();
  b.join();
  EXPECT_EQ(bad.load(), 0);
}

// Page-heap blocks (1..4 MiB): a freed span keeps its pages while the pool's free spans that do
// stay within kDirtyFreeMax, so a block freed and allocated again is not faulted in again; past
// the bound, freed spans go back to the OS.
TEST(NppLarge, AFreedLargeSpanKeepsItsPagesWithinTheBound) {
  Pool pool(Level::NP, "NP-large-dirty");
  constexpr std::size_t kSize = 2 * kMiB;
  void* a = pool.malloc(kSize);
  std::memset(a, 0x5A, kSize);
  pool.free(a);
  const std::size_t resident = resident_bytes();
  void* b = pool.malloc(kSize);
  EXPECT_EQ(b, a);
  std::memset(b, 0x6B, kSize);
  if (kResidentIsOurs) EXPECT_LE(resident_bytes(), resident + kSize / 4) << "the span's pages were kept";
  pool.free(b);

  detail::PoolState& ps = detail::default_state();
  constexpr int kCount = 100;  // 200 MiB, freed
  std::vector<void*> blocks;
  for (int i = 0; i < kCount; ++i) {
    blocks.push_back(npp::malloc(kSize));
    std::memset(blocks.back(), i + 1, kSize);
  }
  const std::size_t full = resident_bytes();
  for (void* p : blocks) npp::free(p);
  {
    const Level prev = ps.lock.acquire();
    EXPECT_LE(ps.dirty_free, detail::kDirtyFreeMax);
    ps.lock.release(prev);
  }
  if (kResidentIsOurs)
    EXPECT_LE(resident_bytes() + (kCount * kSize - detail::kDirtyFreeMax), full + 8 * kMiB)
        << "all but kDirtyFreeMax of the freed spans went back";
  // Reused: calloc's zeroing of a dirty span.
  void* z = detail::c_calloc(kSize);
  EXPECT_TRUE(all_zero(z, kSize));
  npp::free(z);
}

}  // namespace
}  // namespace smplock::npp
