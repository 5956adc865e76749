// src/npp/heap.hpp: what the pool's two sources share. Not for users.
//
//   pool.cpp  the region and page heap (init_locked, alloc_pages, free_span), the crash path and
//             the peak sample, which the large and huge blocks use;
//   huge.cpp  large blocks (page-heap spans) and huge blocks (mappings of their own, the huge
//             cache, mremap), which pool.cpp's malloc, free, realloc and usable_size call.
// Locking as in pool.hpp: a `_locked` function runs with the pool's lock held; the others take it.
#pragma once

#include <cstddef>
#include <source_location>

#include "npp/pool.hpp"
#include "smplock/rules.hpp"

namespace smplock::npp::detail {

inline constexpr std::size_t kOsPage = 4096;

inline char* span_addr(const PoolState& ps, const Span* s) {
  return ps.base.load(std::memory_order_relaxed) + (static_cast<std::size_t>(s - ps.spans) << kPageShift);
}

// --- pool.cpp ---

[[noreturn]] __attribute__((cold)) void crash(PoolState& ps, Rule rule, const char* what, CpuRecord* cpu,
                                              std::source_location where);
// An anonymous private mapping of `len` bytes (MAP_NORESERVE), or nullptr.
void* map_anon(std::size_t len);
// Reserves the pool's region on first use. Under the lock; false when no reservation could be made.
bool init_locked(PoolState& ps);
// A span of `pages` (1..kLargeMaxPages) pages, or nullptr when the region is full. `clean`, if
// given, learns whether every byte of it reads zero. Under the lock.
Span* alloc_pages(PoolState& ps, std::size_t pages, bool* clean = nullptr);
// Gives a span back to the page heap. Under the lock.
void free_span(PoolState& ps, Span* s);
// Raises the peak to the bytes in use now (a pass over every CPU's counters: not under the lock).
void sample_peak(PoolState& ps);

// --- huge.cpp ---

// Frees the large block p (crashes on a double free or a foreign pointer). `counted`: the
// statistics already show it freed (a deferred free counts when it is pushed). Under the lock.
void free_large_locked(PoolState& ps, CpuRecord* cpu, void* p, std::source_location where, bool counted = false);
// Does a few of the large and huge frees that were deferred (see huge.cpp). Under the lock.
void process_deferred_slow(PoolState& ps, CpuRecord* cpu);
// The check every lock holder makes, inline: almost always there is nothing deferred.
inline void process_deferred(PoolState& ps, CpuRecord* cpu) {
  if (ps.deferred_huge.load(std::memory_order_relaxed) == nullptr && ps.deferred_backlog == nullptr &&
      ps.deferred_large.load(std::memory_order_relaxed) == nullptr) [[likely]]
    return;
  process_deferred_slow(ps, cpu);
}
// A large (page-heap) or huge block of `size` bytes aligned to `alignment`, or nullptr. `dirty`,
// if given, learns how many bytes from the block's start may be nonzero (calloc zeroes those).
void* large_alloc(PoolState& ps, CpuRecord& cpu, std::size_t size, std::size_t alignment,
                  std::source_location where, std::size_t* dirty = nullptr);
// The huge block p's record (with `unlink`, removed and counted freed), or nullptr. Takes the lock.
HugeRecord* find_huge(PoolState& ps, const void* p, bool unlink, std::source_location where);
// Frees the huge block p if this pool has it; false when it is not one of this pool's.
bool free_huge(PoolState& ps, const void* p, std::source_location where);
// realloc of the huge block p by mremap; nullptr: the caller reallocates the ordinary way.
void* huge_resize(PoolState& ps, void* p, std::size_t size, std::source_location where);
// Unmaps every huge block and cached piece of a pool being destroyed.
void unmap_huge_all(PoolState& ps);

}  // namespace smplock::npp::detail
