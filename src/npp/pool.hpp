// src/npp/pool.hpp: the pool's own state. Not for users.
//
//   Block      a free small block: the link and a key that marks it free (double-free check).
//   Span       one per 64 KiB page of the pool's region: what the page is part of.
//   CpuCache   one per CPU that has used the pool: its free lists, outgoing remote batches,
//              slab carving state, inboxes for remote frees, and counters.
//   Depot      per class, a stack of chains of blocks drained by CPUs, under the pool's lock.
//   PoolState  all of a pool: its lock, region, per-CPU caches, depot, page heap, huge blocks.
//
// Who touches what:
//   - a CpuCache's lists, carve, out[] and spill[] only by its CPU, with the CPU raised to the
//     pool's level (the level keeps that CPU's handlers out; no other CPU ever reads them) or
//     with the pool's lock held (same level);
//   - inbox[] by any CPU: push a chain with a CAS, take all with an exchange (never pop one), so a
//     reused block can never fool a CAS (no ABA);
//   - Depot, page heap, huge list, free spans: only with the pool's lock held.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "npp/sizes.hpp"
#include "smplock/detail/cpu_record.hpp"
#include "smplock/lock.hpp"
#include "smplock/npp.hpp"

namespace smplock::npp::detail {

using smplock::detail::CpuRecord;
using smplock::detail::kMaxCpus;

struct Block {
  Block* next;
  std::uintptr_t key;  // block address ^ the pool's secret while free; 0 once handed out
};

// Records: a page of the depot's chain records (never a block: a free there is a foreign pointer).
enum class SpanKind : std::uint8_t { Unused = 0, Small, Large, FreeSpan, Records };

// A page's descriptor. Only the first page of a span holds the span's fields; every page holds
// `head`, the distance back to that first page.
//
// The first 8 bytes (head, kind, zero, owner) are the free fast path's whole test of the span: it
// compares them, as one word, with its CPU's CacheHead::span_tag, which is that word for "the
// first page of a small slab this CPU owns". The block geometry that follows (cls, shift, blocks,
// inverse: see sizes.hpp) sits on the same line, so a free reads nothing of the class table.
inline constexpr std::uint16_t kNoOwner = 0xFFFF;  // above every CPU index
static_assert(kMaxCpus <= kNoOwner, "a CPU index fits an owner field and never equals kNoOwner");
struct Span {
  std::uint32_t head = 0;
  SpanKind kind = SpanKind::Unused;
  std::uint8_t zero = 0;             // never written: keeps the word's unused byte known
  std::uint16_t owner = kNoOwner;    // small slab: the CPU that carved it (remote frees go there)
  std::uint16_t pages = 0;
  union {
    std::uint8_t cls = 0;            // small: the class, and its geometry from kClasses
    bool clean;                      // free span: every byte reads zero (fresh, or given back)
  };
  std::uint8_t shift = 0;
  union {
    std::uint32_t size = 0;          // large: usable bytes from `block` (at most kLargeMaxPages pages)
    std::uint32_t blocks;            // small: whole blocks in the slab
  };
  union {
    char* block = nullptr;           // large: the pointer handed out
    std::uint32_t inverse;           // small: the inverse of the block size's odd part (sizes.hpp)
  };
  Span* next = nullptr;              // free span list
};
static_assert(sizeof(Span) == 32, "a power of two: the page map is indexed with a shift");
static_assert(offsetof(Span, owner) == 6, "head, kind, zero and owner make the first word");

// The first word of a span's descriptor, as the free fast path compares it.
inline std::uint64_t span_word(const Span& s) noexcept {
  std::uint64_t w;
  std::memcpy(&w, &s, sizeof w);
  return w;
}
// That word for the first page of a small slab owned by CPU `index`.
inline std::uint64_t small_slab_word(int index) noexcept {
  Span s;
  s.kind = SpanKind::Small;
  s.owner = static_cast<std::uint16_t>(index);
  return span_word(s);
}

// One class's free list and counters: 32 bytes, so one line holds all of it.
struct LocalList {
  Block* head = nullptr;
  // Frees that may still push onto the list before it drains: the class's limit less the blocks
  // on it, exactly (every path that adds or takes blocks says how many), so that a drain knows
  // how far to walk and never walks further. Negative: the list is past its limit.
  std::int32_t room = 0;
  std::uint32_t reserved = 0;
  std::atomic<std::uint64_t> allocs{0};  // owner-written counters (relaxed load + store)
  std::atomic<std::uint64_t> frees{0};
};
static_assert(sizeof(LocalList) == 32);

// Blocks freed here whose slab belongs to `owner`, gathered to go back in one push.
struct Outgoing {
  Block* head = nullptr;
  Block* tail = nullptr;
  std::int32_t owner = -1;
  std::uint32_t count = 0;
};

struct Carve {
  char* next = nullptr;  // the current slab's first block not yet cut
  char* end = nullptr;
};

// What the default pool's fast paths read first of a cache, and all they read of the stand-in a
// thread without one points at: `cpu` equal to the caller's CpuRecord says "this CPU's cache, and
// it is live", one compare that covers "no CPU", "no cache yet" and "a cache of an index this
// thread no longer has".
struct alignas(32) CacheHead {
  CpuRecord* cpu = nullptr;    // the CPU (index) the cache belongs to
  std::uint64_t span_tag = 0;  // small_slab_word(that CPU's index)
};

struct alignas(64) CpuCache : CacheHead {
  // Aligned so that no list straddles two lines (the head's tail padding would otherwise be
  // reused). list[0] is unused (no class 0): it fills the head's line.
  alignas(32) LocalList list[kSizeClasses];
  // Counters written only by this CPU (relaxed load + store, read by snapshots).
  std::atomic<std::uint64_t> slow{0};
  std::atomic<std::uint64_t> locks{0};
  std::atomic<std::uint64_t> remote_frees{0};
  std::atomic<std::uint64_t> remote_batches{0};
  Outgoing out[kSizeClasses];
  Carve carve[kSizeClasses];
  // Blocks taken from an inbox or the orphans (chains of unknown length) beyond what one refill
  // puts on the list: later refills take them half a list's limit at a time (spill_take() in
  // pool.cpp), so no walk is ever longer.
  Block* spill[kSizeClasses]{};
  // Written by other CPUs: a line of their own.
  alignas(64) std::atomic<Block*> inbox[kSizeClasses]{};
  // Set while no thread has this CPU index (its thread ended); seq_cst pairs with the remote
  // pusher's check after its push (see flush_outgoing()).
  alignas(64) std::atomic<bool> vacant{false};
};

// Chains of free blocks handed to the depot, per class, each at most a drain's worth (the class's
// limit and one remote batch), null-terminated, their length known: a stack of records, so a put
// and a take are O(1) under the lock whatever the depot holds. Records come from pages of the
// pool's own region (SpanKind::Records) and are reused. Under the pool's lock.
struct ChainRec {
  Block* head;
  ChainRec* next;
  std::uint32_t count;
};
struct Depot {
  ChainRec* top = nullptr;
  std::uint64_t chains = 0;
};

// A block mapped straight from the OS: this record sits at the start of its mapping.
struct HugeRecord {
  HugeRecord* next;
  char* block;
  std::size_t size;      // usable bytes from block
  std::size_t map_len;
};
inline constexpr unsigned kHugeBuckets = 64;

// A freed huge block's mapping kept for reuse (or part of one: a reuse takes the head of a piece
// and leaves the rest). Its pages are resident and dirty: calloc zeroes what it reuses.
struct HugePiece {
  char* map = nullptr;
  std::size_t len = 0;
};

struct PoolState {
  constexpr PoolState(Level level_, const char* name, std::size_t reserve) noexcept
      : lock(level_, name), level(level_), reserve_request(reserve) {}

  // --- read on every free (set once at init; frontier only grows) ---
  alignas(64) std::atomic<char*> base{nullptr};
  std::atomic<std::size_t> frontier{0};   // bytes from base handed to the page heap
  Span* spans = nullptr;                  // one per page of the reserved region
  std::uintptr_t secret = 0;              // mixed into free blocks' keys

  Lock lock;
  const Level level;
  const std::size_t reserve_request;

  // --- per CPU ---
  smplock::detail::CpuTable<CpuCache> cpus;  // the cache the CPU now on that index uses (null: claim)
  smplock::detail::CpuTable<CpuCache> all;   // every cache ever made for the index (kept for reuse)
  std::atomic<int> max_cpu{-1};

  // --- lock-free lists any CPU may push to ---
  std::atomic<Block*> orphans[kSizeClasses]{};   // remote frees to CPUs whose thread ended
  std::atomic<Block*> deferred_large{};          // large blocks freed by threads that are no CPU
  std::atomic<Block*> deferred_huge{};           // huge blocks freed where the lock may not be taken

  // --- under the lock ---
  char* map_raw = nullptr;          // the reservation as mapped (base is map_raw aligned up)
  std::size_t map_len = 0;
  std::size_t reserved = 0;         // bytes of address space reserved
  std::size_t span_bytes = 0;       // bytes of the spans array mapping
  Span* free_spans[kLargeMaxPages + 1]{};
  std::size_t dirty_free = 0;       // bytes of free spans >= kReleasePages still holding pages
  Depot depot[kSizeClasses]{};
  ChainRec* free_recs = nullptr;    // records given back
  ChainRec* rec_next = nullptr;     // the records page being cut
  ChainRec* rec_end = nullptr;
  Block* deferred_backlog = nullptr;  // deferred large frees taken, not yet done (a few per hold)
  HugeRecord* huge[kHugeBuckets]{};
  HugePiece huge_cache[kHugeCacheSlots]{};  // the huge cache: pieces [0, huge_cached)
  unsigned huge_cached = 0;
  std::size_t huge_cache_bytes = 0;         // their bytes, at most huge_cache_limit
  std::size_t huge_cache_limit = 0;         // 4 x the largest huge block freed, <= kHugeCacheMaxBytes
  bool initialised = false;

  // --- shared counters (atomic read-modify-write, off the fast path) ---
  std::atomic<std::uint64_t> large_allocs{0}, large_frees{0}, huge_allocs{0}, huge_frees{0};
  std::atomic<std::uint64_t> big_bytes{0};        // large + huge bytes in use
  std::atomic<std::uint64_t> stray_bytes{0};      // small bytes freed by threads that are no CPU
  std::atomic<std::uint64_t> stray_frees{0};
  std::atomic<std::uint64_t> big_locks{0};        // lock acquisitions with no CpuCache to count them
  std::atomic<std::uint64_t> mapped{0};          // bytes mapped from the OS (the huge cache included)
  std::atomic<std::uint64_t> huge_reuses{0};     // huge blocks served from the huge cache (tests read it)
  std::atomic<std::uint64_t> peak{0};
  // The longest walk along a chain of blocks one operation made while holding the pool's lock
  // (`locked_walk_max`) or its CPU raised to the pool's level (`raised_walk_max`): what bounds
  // how long the lock, and a CPU's handlers, wait. Tests read them.
  std::atomic<std::uint64_t> locked_walk_max{0};
  std::atomic<std::uint64_t> raised_walk_max{0};
};

// The pools alive now (slot 0: the default pool), for npp::free() and the thread-exit flush.
inline constexpr unsigned kMaxPools = 64;
extern std::atomic<PoolState*> g_pools[kMaxPools];

PoolState& default_state() noexcept;

// R8 alone: crashes when the calling CPU is at or above the pool's level. For the paths that
// would otherwise return before the pool's own check (free(nullptr, quota), a quota's refusal).
void check_r8(PoolState& ps, bool is_malloc, std::source_location where);

// The pool's operations (src/npp/pool.cpp).
void* pool_malloc(PoolState& ps, std::size_t size, std::size_t alignment, Quota* quota, bool crash_on_oom,
                  std::source_location where);
void pool_free(PoolState& ps, void* p, Quota* quota, std::source_location where);
std::size_t pool_usable_size(PoolState& ps, const void* p);
Stats pool_stats(PoolState& ps);
// The pool whose region holds p (or whose huge list has it), else nullptr.
PoolState* pool_of(const void* p);
bool in_region(const PoolState& ps, const void* p) noexcept;

bool set_debug_flag(bool on) noexcept;
bool debug_flag() noexcept;
// Unmaps everything a (non-default) pool holds.
void pool_destroy(PoolState& ps);

// The preload library's malloc and free: the default pool's fast paths with C's contract (16-byte
// alignment, no quota; out of memory is nullptr with errno ENOMEM), so that its exported functions
// are one jump each.
void* c_malloc(std::size_t size);
void c_free(void* p);
// The preload library's calloc of `bytes` (already multiplied): zeroes only what may not be zero,
// so memory fresh from the OS is never written (and never committed).
void* c_calloc(std::size_t bytes);

// The preload library's realloc (C's contract: errno ENOMEM, the old block kept on failure). A
// huge block is resized with mremap (in place, or moved without a copy); others are reallocated.
void* c_realloc(void* old, std::size_t size);

// The preload library's fork handlers: hold the default pool's lock across fork(); in the child,
// drop the caches of the CPU indices whose threads the child does not have.
void prepare_fork();
void after_fork();
void after_fork_child();

}  // namespace smplock::npp::detail
