// tests/npp/aligned_grid.hpp: the aligned-allocation grid (issue 11, defect 1), shared by the unit
// test (npp::aligned_malloc) and the preload program (aligned_alloc, posix_memalign, memalign).
//
// Every size of kGridSizes at every alignment of 8 B..16 MiB, all live at once: each block must be
// aligned, hold at least max(size, 1) usable bytes, and lie apart from every other live block
// (its usable range overlaps no other's). Each block is filled with its own pattern; after the
// zero-size blocks are freed and the grid is allocated a second time, every first-round block
// still holds its pattern. A zero-size block once came out as "the span past the frontier" or the
// first byte past its span, i.e. inside the next live block, and its free freed that block.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace npp_grid {

inline constexpr std::size_t kGridSizes[] = {0, 1, 15, 16, 65535, 65536, (std::size_t{1} << 20) + 1};
inline constexpr std::size_t kMinAlign = 8;
inline constexpr std::size_t kMaxAlign = std::size_t{16} << 20;

struct Block {
  unsigned char* p;
  std::size_t size;    // requested
  std::size_t usable;  // what the allocator says
  unsigned seed;
};

inline std::size_t filled(const Block& b) { return b.size == 0 ? 1 : b.size; }

inline void fill(const Block& b) {
  for (std::size_t i = 0; i < filled(b); ++i) b.p[i] = static_cast<unsigned char>(b.seed + i * 131 + (i >> 8));
}
inline bool intact(const Block& b) {
  for (std::size_t i = 0; i < filled(b); ++i)
    if (b.p[i] != static_cast<unsigned char>(b.seed + i * 131 + (i >> 8))) return false;
  return true;
}

// Allocates the grid once. `alloc(size, alignment)` returns the block or nullptr; `usable(p)` its
// usable size. Returns false (with a message on stderr) at the first fault.
template <class Alloc, class Usable>
bool allocate_grid(Alloc alloc, Usable usable, std::vector<Block>& out, unsigned& seed) {
  for (std::size_t size : kGridSizes)
    for (std::size_t align = kMinAlign; align <= kMaxAlign; align *= 2) {
      void* p = alloc(size, align);
      if (p == nullptr) {
        std::fprintf(stderr, "grid: no block for size %zu alignment %zu\n", size, align);
        return false;
      }
      if (reinterpret_cast<std::uintptr_t>(p) % align != 0) {
        std::fprintf(stderr, "grid: %p (size %zu) is not aligned to %zu\n", p, size, align);
        return false;
      }
      Block b{static_cast<unsigned char*>(p), size, usable(p), ++seed};
      if (b.usable < filled(b)) {
        std::fprintf(stderr, "grid: size %zu alignment %zu: usable size %zu\n", size, align, b.usable);
        return false;
      }
      fill(b);
      out.push_back(b);
    }
  return true;
}

// No two live blocks share a byte (usable ranges, sorted by address).
inline bool disjoint(std::vector<Block> live) {
  std::sort(live.begin(), live.end(), [](const Block& a, const Block& b) { return a.p < b.p; });
  for (std::size_t i = 1; i < live.size(); ++i)
    if (live[i - 1].p + live[i - 1].usable > live[i].p) {
      std::fprintf(stderr, "grid: block %p (size %zu, usable %zu) overlaps block %p (size %zu)\n",
                   static_cast<void*>(live[i - 1].p), live[i - 1].size, live[i - 1].usable,
                   static_cast<void*>(live[i].p), live[i].size);
      return false;
    }
  return true;
}

inline bool all_intact(const std::vector<Block>& live) {
  for (const Block& b : live)
    if (!intact(b)) {
      std::fprintf(stderr, "grid: block %p (size %zu) lost its contents\n", static_cast<void*>(b.p), b.size);
      return false;
    }
  return true;
}

// The whole check. Frees everything it allocated before it returns true.
template <class Alloc, class Free, class Usable>
bool run_grid(Alloc alloc, Free release, Usable usable) {
  std::vector<Block> first, second;
  unsigned seed = 0;
  if (!allocate_grid(alloc, usable, first, seed) || !disjoint(first) || !all_intact(first)) return false;
  // Free the zero-size blocks: a block that aliases a live one would free it here...
  std::vector<Block> kept;
  for (const Block& b : first) {
    if (b.size == 0)
      release(b.p);
    else
      kept.push_back(b);
  }
  // ... and the second round would then be handed it and overwrite it.
  if (!allocate_grid(alloc, usable, second, seed)) return false;
  std::vector<Block> live = kept;
  live.insert(live.end(), second.begin(), second.end());
  if (!disjoint(live) || !all_intact(live)) return false;
  for (const Block& b : live) release(b.p);
  return true;
}

}  // namespace npp_grid
