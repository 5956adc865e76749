// src/npp/sizes.hpp: the pool's size classes and page geometry, computed at compile time.
//
//   kPageShift / kPageSize   the page heap's unit (64 KiB); slabs and large blocks are whole pages.
//   ClassTable / kClasses    per class: block size, slab pages, cache limit, reciprocal, and the
//                            exact-division test the free fast path uses (inverse, shift, blocks).
//   class_of()               the class of a request.
#pragma once

#include <cstddef>
#include <cstdint>

#include "smplock/npp.hpp"

namespace smplock::npp::detail {

inline constexpr unsigned kPageShift = 16;
inline constexpr std::size_t kPageSize = std::size_t{1} << kPageShift;
inline constexpr unsigned kFineClasses = 100;          // 16..1600 in 16-byte steps
inline constexpr std::size_t kFineMax = 16 * kFineClasses;
// Page-heap blocks up to this many pages (4 MiB); larger ones are mapped straight from the OS.
inline constexpr unsigned kLargeMaxPages = 64;
// Freed huge blocks kept mapped for reuse (the huge cache, docs/npp.md "Large and huge blocks"):
// at most kHugeCacheSlots pieces and 4 x the largest huge block the pool has freed, never more
// than kHugeCacheMaxBytes; a block above half that bound goes straight back to the OS.
inline constexpr std::size_t kHugeCacheMaxBytes = std::size_t{128} << 20;
inline constexpr unsigned kHugeCacheSlots = 16;
// Free page-heap spans of 1 MiB and more keep their pages up to this many bytes together; a free
// past it gives the span back to the OS (madvise).
inline constexpr std::size_t kDirtyFreeMax = std::size_t{64} << 20;
// Slabs hold at least this many blocks.
inline constexpr unsigned kMinBlocksPerSlab = 16;
// The reciprocal's scale: block index = (offset * recip) >> kRecipShift, exact for offsets below
// 2^20 (a slab is at most 16 pages of 64 KiB) and sizes below 2^20 (tests check every offset).
inline constexpr unsigned kRecipShift = 40;

struct ClassTable {
  std::uint32_t size[kSizeClasses]{};
  std::uint16_t pages[kSizeClasses]{};     // slab length in pages
  std::uint16_t limit[kSizeClasses]{};     // most blocks a CPU's free list keeps before draining
  std::uint16_t carve[kSizeClasses]{};     // blocks cut from a slab per refill
  std::uint64_t recip[kSizeClasses]{};     // ceil(2^kRecipShift / size)
  std::uint32_t end[kSizeClasses]{};       // bytes of a slab that hold whole blocks
  // Block size = odd * 2^shift. With inverse = odd^-1 mod 2^32, rotr(offset * inverse, shift) in
  // 32-bit arithmetic is offset / size when size divides offset, and above every block index when
  // it does not, so one compare, `rotr(...) < blocks`, says "the start of a whole block" (Hacker's
  // Delight, "test for zero remainder after division by a constant"; offsets within a slab are far
  // below 2^32). Tests check every offset.
  std::uint32_t inverse[kSizeClasses]{};
  std::uint8_t shift[kSizeClasses]{};
  std::uint32_t blocks[kSizeClasses]{};    // whole blocks in a slab
  std::uint8_t by16[kSmallMax / 16 + 1]{};    // class by (size + 15) / 16
};

constexpr ClassTable make_class_table() {
  ClassTable t{};
  constexpr std::uint32_t kCoarse[] = {1792, 2048, 2560, 3072, 3584, 4096, 5120,
                                       6144, 7168, 8192, 10240, 12288, 14336, 16384};
  static_assert(kFineClasses + 1 + sizeof kCoarse / sizeof kCoarse[0] == kSizeClasses);
  for (unsigned c = 1; c < kSizeClasses; ++c) {
    const std::uint32_t size = c <= kFineClasses ? 16 * c : kCoarse[c - kFineClasses - 1];
    t.size[c] = size;
    std::size_t pages = (std::size_t{size} * kMinBlocksPerSlab + kPageSize - 1) / kPageSize;
    t.pages[c] = static_cast<std::uint16_t>(pages);
    // A CPU keeps up to 256 KiB per class (16..1024 blocks) before it drains half to the depot.
    std::size_t limit = (256 * 1024) / size;
    limit = limit < 16 ? 16 : (limit > 1024 ? 1024 : limit);
    t.limit[c] = static_cast<std::uint16_t>(limit);
    // A refill cuts 4 KiB of a slab (at least 4 blocks, at most 256) and writes each block's
    // link and key, so what it cuts is resident from then on. It cut 32 KiB until issue 16: a
    // program that uses many classes a few blocks each (glibc-bench thread, espresso) made each
    // CPU touch up to 32 KiB per class, and peaked at 7.9 MiB against 4.5 for the median allocator.
    std::size_t carve = (4 * 1024) / size;
    carve = carve < 4 ? 4 : (carve > 256 ? 256 : carve);
    t.carve[c] = static_cast<std::uint16_t>(carve);
    t.recip[c] = ((std::uint64_t{1} << kRecipShift) + size - 1) / size;
    t.end[c] = static_cast<std::uint32_t>((pages * kPageSize) / size * size);
    t.blocks[c] = static_cast<std::uint32_t>((pages * kPageSize) / size);
    std::uint32_t odd = size;
    while ((odd & 1) == 0) {
      odd >>= 1;
      ++t.shift[c];
    }
    // Newton's iteration for the inverse mod 2^32: odd is its own inverse mod 8 (3 bits), and
    // each step doubles the bits that are right (3, 6, 12, 24, 48).
    std::uint32_t inv = odd;
    for (int i = 0; i < 4; ++i) inv *= 2 - odd * inv;
    t.inverse[c] = inv;
  }
  unsigned c = 1;
  for (unsigned i = 0; i <= kSmallMax / 16; ++i) {
    while (t.size[c] < i * 16) ++c;
    t.by16[i] = static_cast<std::uint8_t>(c);
  }
  return t;
}

inline constexpr ClassTable kClasses = make_class_table();
static_assert([] {
  for (unsigned c = 1; c < kSizeClasses; ++c)
    if (static_cast<std::uint32_t>(kClasses.inverse[c] * (kClasses.size[c] >> kClasses.shift[c])) != 1) return false;
  return true;
}(), "every class's inverse is exact");

// The class of a request of n bytes, n <= kSmallMax (0 gets the smallest class).
inline unsigned class_of(std::size_t n) { return kClasses.by16[(n + 15) >> 4]; }

}  // namespace smplock::npp::detail
