// smplock/npp.hpp: the non-paged pool, an allocator that takes no lock in the common case.
//
//   npp::malloc() / free() / usable_size()   the default pool (level NP).
//   npp::Quota       a byte limit charged and credited without a lock.
//   npp::Pool        a pool at a level of your choice (the default one sits at NP).
//   npp::Allocator   the adapter for standard containers.
//   npp::Stats       a snapshot of a pool's counters (stats()).
//   npp::set_debug() guard bands with poison checked on free, switchable at run time.
//
// How it works (docs/npp.md has the long version). Small blocks (up to kSmallMax bytes) come from
// size classes of 16-byte steps up to 1,600 bytes, then a few coarser ones. Every CPU keeps its own
// free list per class and uses it with the CPU raised to the pool's level: the level is what keeps
// this CPU's interrupt and softint handlers out of the list, so no lock and no atomic instruction
// is needed. A block freed by another CPU goes back to its slab's owner on a lock-free list (pushed
// in batches, taken all at once, so no ABA hazard). Only refills that find nothing nearby and
// drains of an overfull list take the pool's lock; so do larger blocks (a page heap under the lock)
// and very large ones (straight from the OS).
//
// R8: calling the pool at or above its level is a crash, on the fast path too. The default pool
// sits at NP, below the IRQ levels, so no interrupt handler may use it. A pool made at a level above
// some IRQs may be used by those IRQs' handlers, at the price the seed names: while a CPU is inside
// that pool it holds back every interrupt at or below the pool's level.
//
// When not to use it: the pool never hands small-block memory back to the OS (like a kernel's
// non-paged pool, it keeps what it has grown to); a program whose peak is far above its steady
// state may prefer an allocator that trims.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <source_location>

#include "smplock/level.hpp"

namespace smplock::npp {

// Every block is aligned to this many bytes.
inline constexpr std::size_t kAlignment = 16;
// Largest block served by the per-CPU caches; above it the page heap (under the pool's lock).
inline constexpr std::size_t kSmallMax = 16384;
// Size classes: index 0 is unused, 1..100 are 16..1600 bytes in 16-byte steps, 101..114 coarser.
inline constexpr unsigned kSizeClasses = 115;

namespace detail {
struct PoolState;
}

// --- quota ------------------------------------------------------------------------------------

// Quota: a limit on the bytes charged to it. Charges and credits are lock-free (a CAS loop and a
// subtraction); a charge that would pass the limit changes nothing and fails. A block charged with
// malloc(size, quota) is credited with free(p, quota): the pool does not remember the quota, the
// caller does (as with the size in a kernel's free routine). With debug on, a mismatch crashes.
class Quota {
 public:
  explicit constexpr Quota(std::size_t limit_bytes) noexcept : limit_(limit_bytes) {}
  Quota(const Quota&) = delete;
  Quota& operator=(const Quota&) = delete;

  // Adds `bytes` if the total stays within the limit; returns whether it did.
  bool charge(std::size_t bytes) noexcept {
    std::size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ || used > limit_ - bytes) return false;
      // Relaxed: the quota orders nothing else; the CAS alone makes the check-and-add atomic.
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  // Gives back `bytes` charged earlier.
  void credit(std::size_t bytes) noexcept { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const noexcept { return limit_; }

 private:
  std::atomic<std::size_t> used_{0};
  const std::size_t limit_;
};

// --- statistics -------------------------------------------------------------------------------

// The pool's counters, each declared once here: X(name, description). Totals over every CPU.
#define SMPLOCK_NPP_COUNTERS(X)                                                                  \
  X(bytes_in_use, "bytes handed out and not yet freed (block sizes, not requested sizes)")      \
  X(peak_bytes, "highest bytes_in_use seen (sampled on the slow paths and at each snapshot)")   \
  X(mallocs, "allocations, every size")                                                        \
  X(frees, "frees, every size")                                                                \
  X(fast_hits, "calls served by the CPU's own free list: no lock, no atomic instruction")       \
  X(slow_calls, "calls that left the fast path (refill, drain, remote batch, large block)")    \
  X(lock_acquisitions, "times the pool's lock was taken")                                       \
  X(remote_frees, "small blocks freed by a CPU other than their slab's owner")                 \
  X(remote_batches, "batches of remote frees pushed to an owner's lock-free list")             \
  X(large_allocs, "blocks from the page heap (above kSmallMax)")                                \
  X(huge_allocs, "blocks mapped straight from the OS")                                          \
  X(bytes_mapped, "bytes of address space the pool has put to use (pages and huge blocks)")

struct ClassStats {
  std::size_t size = 0;        // the class's block size
  std::uint64_t allocs = 0;    // allocations of the class
  std::uint64_t frees = 0;     // frees of the class
  std::uint64_t in_use() const { return allocs >= frees ? allocs - frees : 0; }
};

struct Stats {
#define SMPLOCK_NPP_DECLARE(name, text) std::uint64_t name = 0;
  SMPLOCK_NPP_COUNTERS(SMPLOCK_NPP_DECLARE)
#undef SMPLOCK_NPP_DECLARE
  std::array<ClassStats, kSizeClasses> classes{};

  std::uint64_t calls() const { return mallocs + frees; }
  // Share of calls served by the fast path, 0..1.
  double fast_hit_rate() const { return calls() == 0 ? 1.0 : static_cast<double>(fast_hits) / static_cast<double>(calls()); }
  // Share of calls that took the pool's lock, 0..1 (the seed's budget: under 1%).
  double lock_rate() const {
    return calls() == 0 ? 0.0 : static_cast<double>(lock_acquisitions) / static_cast<double>(calls());
  }
};

// Each counter's name and description, in declaration order (for reports).
struct CounterInfo {
  const char* name;
  const char* description;
};
inline constexpr CounterInfo kCounterInfo[] = {
#define SMPLOCK_NPP_INFO(name, text) {#name, text},
    SMPLOCK_NPP_COUNTERS(SMPLOCK_NPP_INFO)
#undef SMPLOCK_NPP_INFO
};

// --- pools ------------------------------------------------------------------------------------

class Pool {
 public:
  // A pool whose lock sits at `level` (R8: it may only be called below that level). `name` is the
  // lock's class name in the contention statistics. `reserve_bytes` is the address space kept for
  // it (0: 4 GiB); the pool never grows past it.
  explicit Pool(Level level, const char* name = "NP", std::size_t reserve_bytes = 0);
  // Gives all of the pool's memory back to the OS: every block from it dies with it. No thread may
  // be using the pool meanwhile.
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // A block of at least `size` bytes, 16-byte aligned. Running out of memory is a crash.
  void* malloc(std::size_t size, std::source_location where = std::source_location::current());
  // Charges the block's usable size to `quota` first; returns nullptr, having done nothing, when
  // the charge fails (or memory runs out).
  void* malloc(std::size_t size, Quota& quota, std::source_location where = std::source_location::current());
  // A block aligned to `alignment` (a power of two); nullptr when memory runs out.
  void* aligned_malloc(std::size_t size, std::size_t alignment,
                       std::source_location where = std::source_location::current());
  // Like malloc(size) but returns nullptr instead of crashing when memory runs out.
  void* try_malloc(std::size_t size, std::source_location where = std::source_location::current());

  // Frees a block of this pool (nullptr is ignored). A double free, a pointer the pool did not
  // hand out, or (with debug on) a damaged guard band is a crash.
  void free(void* p, std::source_location where = std::source_location::current());
  // Frees and credits `quota` with what malloc(size, quota) charged.
  void free(void* p, Quota& quota, std::source_location where = std::source_location::current());

  // The bytes the block can hold (at least what was asked for). Crashes on a foreign pointer.
  std::size_t usable_size(const void* p) const;
  // Whether p lies in this pool's address space (a cheap range check, not a validity check).
  bool owns(const void* p) const noexcept;

  Level level() const noexcept;
  const char* name() const noexcept;
  Stats stats() const;

  // The pool behind npp::malloc(): level NP, lock name "NP". Never destroyed.
  static Pool& default_pool() noexcept;

  // --- Public interface ends here. -------------------------------------------------------------
  explicit constexpr Pool(detail::PoolState* state) noexcept : state_(state) {}
  detail::PoolState* state() const noexcept { return state_; }

 private:
  detail::PoolState* state_;
};

// The default pool.
void* malloc(std::size_t size, std::source_location where = std::source_location::current());
void* malloc(std::size_t size, Quota& quota, std::source_location where = std::source_location::current());
void* aligned_malloc(std::size_t size, std::size_t alignment,
                     std::source_location where = std::source_location::current());
// Frees a block of the default pool, or of any other live Pool (found by address).
void free(void* p, std::source_location where = std::source_location::current());
void free(void* p, Quota& quota, std::source_location where = std::source_location::current());
std::size_t usable_size(const void* p);
Stats stats();

// Debug mode: blocks allocated while it is on (up to kSmallMax - 48 bytes, 16-byte alignment)
// carry a header and a guard band on each side, filled with poison and checked on free; freed
// blocks are filled with poison too. Blocks keep their kind whatever the switch says later.
// Returns the previous setting.
bool set_debug(bool on) noexcept;
bool debug() noexcept;

// The usable size a request of `size` bytes gets (what a quota is charged).
std::size_t good_size(std::size_t size) noexcept;

// --- standard containers ----------------------------------------------------------------------

// Allocator<T>: std::vector<int, npp::Allocator<int>> v; or with a pool: Allocator<T>(pool).
template <class T>
class Allocator {
 public:
  using value_type = T;
  Allocator() noexcept = default;
  explicit Allocator(Pool& pool) noexcept : pool_(&pool) {}
  template <class U>
  Allocator(const Allocator<U>& other) noexcept : pool_(other.pool()) {}

  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    const std::size_t bytes = n * sizeof(T);
    void* p = alignof(T) <= kAlignment ? the_pool().try_malloc(bytes) : the_pool().aligned_malloc(bytes, alignof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { the_pool().free(p); }

  Pool* pool() const noexcept { return pool_; }
  template <class U>
  bool operator==(const Allocator<U>& other) const noexcept {
    return &the_pool() == &other.the_pool();
  }
  Pool& the_pool() const noexcept { return pool_ != nullptr ? *pool_ : Pool::default_pool(); }

 private:
  Pool* pool_ = nullptr;  // nullptr: the default pool
};

}  // namespace smplock::npp
