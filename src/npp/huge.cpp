// Large and huge blocks: large ones (up to kLargeMaxPages pages) are spans of the page heap,
// huge ones are mappings of their own with their record in the page in front of the block, kept
// in a hash of buckets. A freed huge mapping goes to the huge cache (below) and comes back from it
// on a later malloc; realloc of a huge block resizes its mapping with mremap. Large and huge frees
// that cannot take the pool's lock (a thread that is no CPU, a program's signal handler) are
// deferred to the next lock holder, a few per hold. The region and page heap, and the small-block
// paths that call in here, are in pool.cpp; what the two share is declared in heap.hpp.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>

#include "npp/heap.hpp"

namespace smplock::npp::detail {

namespace {

constexpr std::size_t kHugeHeader = 4096;       // the HugeRecord's page in front of a huge block
constexpr unsigned kDeferredPerHold = 8;        // deferred large frees done per lock hold

// Finds (and with `unlink`, removes) the huge block p. Under the lock.
HugeRecord* find_huge_locked(PoolState& ps, const void* p, bool unlink) {
  const unsigned bucket = static_cast<unsigned>((reinterpret_cast<std::uintptr_t>(p) >> 12) % kHugeBuckets);
  HugeRecord** link = &ps.huge[bucket];
  while (*link != nullptr && (*link)->block != p) link = &(*link)->next;
  HugeRecord* rec = *link;
  if (rec != nullptr && unlink) {
    *link = rec->next;
    ps.huge_frees.fetch_add(1, std::memory_order_relaxed);
    ps.big_bytes.fetch_sub(rec->size, std::memory_order_relaxed);
  }
  return rec;
}

// --- the huge cache (under the lock; system calls after it is released) ----------------------------
//
// malloc-large (issue 16): blocks of 5..25 MiB allocated, filled and freed, over and over. Given
// back to the OS on every free, each one came back as fresh pages, every 4 KiB a page fault: 7.8
// million of them against glibc's 0.5, which keeps freed memory in its heap. Now a freed huge
// block's mapping stays mapped, in at most kHugeCacheSlots pieces of at most huge_cache_limit
// bytes together (4 x the largest huge block freed, at most kHugeCacheMaxBytes): what a free
// pushes past either bound is unmapped, smallest pieces first, so the resident set stays within
// that bound of what is in use. A malloc takes the smallest piece that holds it (its head; the
// rest stays a piece) with no system call; else it maps anew and moves the largest pieces into
// the new mapping with mremap (the kernel moves page tables, nothing is copied; only what they do
// not cover is fresh pages). Every walk here is over the kHugeCacheSlots pieces at most.

void link_huge_locked(PoolState& ps, HugeRecord* rec) {
  const unsigned bucket = static_cast<unsigned>((reinterpret_cast<std::uintptr_t>(rec->block) >> 12) % kHugeBuckets);
  rec->next = ps.huge[bucket];
  ps.huge[bucket] = rec;
}

void cache_remove_locked(PoolState& ps, unsigned i) {
  ps.huge_cache_bytes -= ps.huge_cache[i].len;
  ps.huge_cache[i] = ps.huge_cache[--ps.huge_cached];
  ps.huge_cache[ps.huge_cached] = HugePiece{};
}

// Pieces for a mapping of `len` bytes, into `taken` (returns how many): the head of the smallest
// piece that holds it when one does (exactly `len` bytes); else the largest pieces, largest first,
// the last one cut to what is still missing, `len` bytes together at most (the caller gathers
// them into one mapping); none when the cache is empty.
unsigned cache_take_locked(PoolState& ps, std::size_t len, HugePiece* taken) {
  int fit = -1;
  for (unsigned i = 0; i < ps.huge_cached; ++i) {
    const std::size_t have = ps.huge_cache[i].len;
    if (have >= len && (fit < 0 || have < ps.huge_cache[fit].len)) fit = static_cast<int>(i);
  }
  unsigned n = 0;
  std::size_t got = 0;
  while (got < len) {
    unsigned pick;
    if (fit >= 0) {
      pick = static_cast<unsigned>(fit);
    } else {
      if (ps.huge_cached == 0) break;
      pick = 0;
      for (unsigned i = 1; i < ps.huge_cached; ++i)
        if (ps.huge_cache[i].len > ps.huge_cache[pick].len) pick = i;
    }
    HugePiece& piece = ps.huge_cache[pick];
    const std::size_t want = len - got;
    if (piece.len > want) {  // the head is taken, the rest stays a piece
      taken[n++] = HugePiece{piece.map, want};
      piece.map += want;
      piece.len -= want;
      ps.huge_cache_bytes -= want;
      got += want;
    } else {
      taken[n++] = piece;
      got += piece.len;
      cache_remove_locked(ps, pick);
    }
  }
  return n;
}

// Puts the freed mapping [map, map + len) in the cache, joined to a piece it touches (the rest of
// the piece it was cut from, typically). What the bounds refuse goes to `out` (at most
// kHugeCacheSlots + 1 pieces) for the caller to unmap after the lock; returns how many.
unsigned cache_put_locked(PoolState& ps, char* map, std::size_t len, HugePiece* out) {
  const std::size_t want = len > kHugeCacheMaxBytes / 4 ? kHugeCacheMaxBytes : 4 * len;
  if (want > ps.huge_cache_limit) ps.huge_cache_limit = want;
  unsigned n = 0;
  if (len > kHugeCacheMaxBytes / 2) {
    out[n++] = HugePiece{map, len};
    return n;
  }
  bool joined = false;
  for (unsigned i = 0; i < ps.huge_cached && !joined; ++i) {
    HugePiece& piece = ps.huge_cache[i];
    if (piece.map + piece.len == map) {
      piece.len += len;
      joined = true;
    } else if (map + len == piece.map) {
      piece.map = map;
      piece.len += len;
      joined = true;
    }
  }
  if (!joined) {
    if (ps.huge_cached == kHugeCacheSlots) {  // full: the smaller of the new one and the smallest goes
      unsigned smallest = 0;
      for (unsigned i = 1; i < ps.huge_cached; ++i)
        if (ps.huge_cache[i].len < ps.huge_cache[smallest].len) smallest = i;
      if (ps.huge_cache[smallest].len >= len) {
        out[n++] = HugePiece{map, len};
        return n;
      }
      out[n++] = ps.huge_cache[smallest];
      cache_remove_locked(ps, smallest);
    }
    ps.huge_cache[ps.huge_cached++] = HugePiece{map, len};
  }
  ps.huge_cache_bytes += len;
  // Past the byte bound: the smallest pieces go, and the last one only as far as needed (a piece
  // joined from many blocks can alone be past the bound; its tail goes). Sizes are whole pages.
  while (ps.huge_cache_bytes > ps.huge_cache_limit) {
    unsigned smallest = 0;
    for (unsigned i = 1; i < ps.huge_cached; ++i)
      if (ps.huge_cache[i].len < ps.huge_cache[smallest].len) smallest = i;
    HugePiece& piece = ps.huge_cache[smallest];
    const std::size_t excess = ps.huge_cache_bytes - ps.huge_cache_limit;
    if (piece.len <= excess) {
      out[n++] = piece;
      cache_remove_locked(ps, smallest);
    } else {
      piece.len -= excess;
      out[n++] = HugePiece{piece.map + piece.len, excess};
      ps.huge_cache_bytes -= excess;
    }
  }
  return n;
}

// Unmaps what the cache let go. At the caller's own level, no lock held.
void unmap_pieces(PoolState& ps, const HugePiece* pieces, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    munmap(pieces[i].map, pieces[i].len);
    ps.mapped.fetch_sub(pieces[i].len, std::memory_order_relaxed);
  }
}

// A mapping of `len` bytes for a huge block, from the cache when it has pieces: one that holds it
// is used as it is (no system call); else a fresh mapping of `len` bytes is made and the pieces are
// moved into it, one after another from its start, with mremap (the kernel moves page tables:
// nothing is copied, and only what the pieces do not cover is fresh pages). `fresh` learns how many
// bytes were newly mapped, `used` how many at the start may be nonzero (calloc zeroes those).
char* huge_map(PoolState& ps, std::size_t len, std::source_location where, std::size_t& fresh, std::size_t& used) {
  HugePiece taken[kHugeCacheSlots];
  const Level prev = ps.lock.acquire(where);
  ps.big_locks.fetch_add(1, std::memory_order_relaxed);
  const unsigned n = cache_take_locked(ps, len, taken);
  ps.lock.release(prev, where);
  fresh = len;
  used = 0;
  if (n != 0) ps.huge_reuses.fetch_add(1, std::memory_order_relaxed);
  if (n == 1 && taken[0].len == len) {
    fresh = 0;
    used = len;
    return taken[0].map;
  }
  auto* map = static_cast<char*>(map_anon(len));
  if (map == nullptr) {
    unmap_pieces(ps, taken, n);
    return nullptr;
  }
  std::size_t at = 0;
  for (unsigned i = 0; i < n; ++i) {
    // A piece the kernel will not move in one call (one joined from mappings it keeps apart, on
    // a kernel that moves one mapping per call) is let go: its place stays fresh pages.
    if (mremap(taken[i].map, taken[i].len, taken[i].len, MREMAP_MAYMOVE | MREMAP_FIXED, map + at) != MAP_FAILED) {
      fresh -= taken[i].len;  // counted in `mapped` already, as a piece
      used = at + taken[i].len;
    } else {
      unmap_pieces(ps, &taken[i], 1);
    }
    at += taken[i].len;
  }
  return map;
}

}  // namespace

// `counted`: the statistics already show it freed (a deferred free counts when it is pushed).
void free_large_locked(PoolState& ps, CpuRecord* cpu, void* p, std::source_location where, bool counted) {
  const std::uintptr_t off = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(ps.base.load(std::memory_order_relaxed));
  Span* s = ps.spans + (off >> kPageShift);
  s -= s->head;
  if (s->kind == SpanKind::FreeSpan)
    crash(ps, Rule::Fatal, "npp: double free (the block's pages are already free)", cpu, where);
  if (s->kind != SpanKind::Large || s->block != p)
    crash(ps, Rule::Fatal, "npp: free of a pointer the pool did not hand out (foreign pointer)", cpu, where);
  if (!counted) {
    ps.big_bytes.fetch_sub(s->size, std::memory_order_relaxed);
    ps.large_frees.fetch_add(1, std::memory_order_relaxed);
  }
  free_span(ps, s);
}

// Large blocks freed by threads that are no CPU wait on a lock-free list for the lock holders,
// who do kDeferredPerHold of them each (bounded work under the lock, however many wait); so do
// huge blocks freed from a program's signal handler (the preload library's nested calls).
void process_deferred_slow(PoolState& ps, CpuRecord* cpu) {
  if (ps.deferred_huge.load(std::memory_order_relaxed) != nullptr) [[unlikely]] {
    // Popped one at a time: the lock holder is the only taker and pushers only prepend, so the
    // head seen unchanged by the CAS still links to the same next (no ABA).
    for (unsigned i = 0; i < kDeferredPerHold; ++i) {
      Block* b = ps.deferred_huge.load(std::memory_order_acquire);
      while (b != nullptr &&
             !ps.deferred_huge.compare_exchange_weak(b, b->next, std::memory_order_acquire, std::memory_order_acquire)) {
      }
      if (b == nullptr) break;
      HugeRecord* rec = find_huge_locked(ps, b, true);
      if (rec == nullptr)
        crash(ps, Rule::Fatal, "npp: free of a pointer the pool did not hand out (foreign pointer, freed in a signal handler)",
              cpu, {});
      ps.mapped.fetch_sub(rec->map_len, std::memory_order_relaxed);
      munmap(rec, rec->map_len);  // rare (a signal handler's free): not worth the cache
    }
  }
  if (ps.deferred_backlog == nullptr) {
    if (ps.deferred_large.load(std::memory_order_relaxed) == nullptr) [[likely]]
      return;
    ps.deferred_backlog = ps.deferred_large.exchange(nullptr, std::memory_order_acquire);
  }
  for (unsigned i = 0; i < kDeferredPerHold && ps.deferred_backlog != nullptr; ++i) {
    Block* b = ps.deferred_backlog;
    ps.deferred_backlog = b->next;
    free_large_locked(ps, cpu, b, {}, true);
  }
}

// `dirty`, if given, learns how many bytes from the block's start may be nonzero (0: the block is
// fresh from the OS; calloc zeroes only those).
void* large_alloc(PoolState& ps, CpuRecord& cpu, std::size_t size, std::size_t alignment,
                  std::source_location where, std::size_t* dirty) {
  if (alignment < kAlignment) alignment = kAlignment;
  // A zero-size block still needs a byte of its own: with none, the span came out 0 pages long
  // (alloc_pages(0) handed out the span past the frontier, or a free span it left on its list) or
  // the aligned pointer was the first byte past the span, inside the next live block.
  if (size == 0) size = 1;
  std::size_t need = size + (alignment > kPageSize ? alignment - kPageSize : 0);
  if (need < size) return nullptr;  // overflow
  if (need <= std::size_t{kLargeMaxPages} << kPageShift) {
    const std::size_t pages = (need + kPageSize - 1) >> kPageShift;
    const Level prev = ps.lock.acquire(where);
    ps.big_locks.fetch_add(1, std::memory_order_relaxed);
    process_deferred(ps, &cpu);
    bool clean = false;
    Span* s = init_locked(ps) ? alloc_pages(ps, pages, &clean) : nullptr;
    void* result = nullptr;
    if (s != nullptr) {
      char* addr = span_addr(ps, s);
      char* block = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(addr) + alignment - 1) & ~(alignment - 1));
      s->kind = SpanKind::Large;
      s->block = block;
      s->size = static_cast<std::uint32_t>(addr + (pages << kPageShift) - block);
      ps.big_bytes.fetch_add(s->size, std::memory_order_relaxed);
      ps.large_allocs.fetch_add(1, std::memory_order_relaxed);
      result = block;
      if (dirty != nullptr) *dirty = clean ? 0 : s->size;
    }
    ps.lock.release(prev, where);
    if (result != nullptr) sample_peak(ps);  // a pass over every CPU: not under the lock
    return result;
  }
  // Huge: a mapping of its own (from the huge cache when it has one), the record in the page in
  // front of the block.
  const std::size_t slack = alignment > kOsPage ? alignment : 0;
  std::size_t len = kHugeHeader + size + slack;
  if (len < size) return nullptr;
  len = (len + kOsPage - 1) & ~(kOsPage - 1);
  if (len < size) return nullptr;
  std::size_t fresh = 0;  // bytes newly mapped from the OS
  std::size_t used = 0;   // bytes at the mapping's start that may be nonzero (reused pages)
  char* map = huge_map(ps, len, where, fresh, used);
  if (map == nullptr) return nullptr;
  auto* rec = reinterpret_cast<HugeRecord*>(map);
  const std::uintptr_t start = reinterpret_cast<std::uintptr_t>(map) + kHugeHeader;
  rec->block = reinterpret_cast<char*>((start + alignment - 1) & ~(alignment - 1));
  rec->size = static_cast<std::size_t>(map + len - rec->block);
  rec->map_len = len;
  if (dirty != nullptr) {
    const auto head = static_cast<std::size_t>(rec->block - map);
    *dirty = used > head ? used - head : 0;
  }
  const Level prev = ps.lock.acquire(where);
  ps.big_locks.fetch_add(1, std::memory_order_relaxed);
  link_huge_locked(ps, rec);
  ps.huge_allocs.fetch_add(1, std::memory_order_relaxed);
  ps.big_bytes.fetch_add(rec->size, std::memory_order_relaxed);
  ps.mapped.fetch_add(fresh, std::memory_order_relaxed);
  ps.lock.release(prev, where);
  sample_peak(ps);
  return rec->block;
}

// Takes the lock: the caller is below it.
HugeRecord* find_huge(PoolState& ps, const void* p, bool unlink, std::source_location where) {
  const Level prev = ps.lock.acquire(where);
  ps.big_locks.fetch_add(1, std::memory_order_relaxed);
  HugeRecord* rec = find_huge_locked(ps, p, unlink);
  ps.lock.release(prev, where);
  return rec;
}

// Frees the huge block p if this pool has it: its mapping goes to the huge cache, and what the
// cache lets go is unmapped after the lock is released. False: not one of this pool's.
bool free_huge(PoolState& ps, const void* p, std::source_location where) {
  HugePiece out[kHugeCacheSlots + 1];
  const Level prev = ps.lock.acquire(where);
  ps.big_locks.fetch_add(1, std::memory_order_relaxed);
  HugeRecord* rec = find_huge_locked(ps, p, true);
  const unsigned n = rec != nullptr ? cache_put_locked(ps, reinterpret_cast<char*>(rec), rec->map_len, out) : 0;
  ps.lock.release(prev, where);
  unmap_pieces(ps, out, n);
  return rec != nullptr;
}

// realloc of the huge block p to `size` bytes: the mapping is resized with mremap, in place or
// moved by the kernel (page tables, no copy; the pages stay resident). nullptr when p is no huge
// block of this pool, when the new size is no huge block, or when mremap refuses (the block is
// then unchanged): the caller reallocates the ordinary way.
void* huge_resize(PoolState& ps, void* p, std::size_t size, std::source_location where) {
  if (size <= std::size_t{kLargeMaxPages} << kPageShift) return nullptr;
  const Level prev = ps.lock.acquire(where);
  ps.big_locks.fetch_add(1, std::memory_order_relaxed);
  HugeRecord* rec = find_huge_locked(ps, p, false);
  if (rec == nullptr) {
    ps.lock.release(prev, where);
    return nullptr;
  }
  const auto head = static_cast<std::size_t>(rec->block - reinterpret_cast<char*>(rec));
  const std::size_t old_len = rec->map_len, old_size = rec->size;
  std::size_t len = head + size;
  len = len < size ? 0 : (len + kOsPage - 1) & ~(kOsPage - 1);
  if (len == old_len || len < size) {
    ps.lock.release(prev, where);
    return len == old_len ? p : nullptr;
  }
  (void)find_huge_locked(ps, p, true);  // out of the table while it moves (only its owner uses it)
  ps.huge_frees.fetch_sub(1, std::memory_order_relaxed);
  ps.lock.release(prev, where);
  void* moved = mremap(rec, old_len, len, MREMAP_MAYMOVE);
  const bool ok = moved != MAP_FAILED;
  if (ok) {
    rec = static_cast<HugeRecord*>(moved);
    rec->block = reinterpret_cast<char*>(rec) + head;
    rec->size = len - head;
    rec->map_len = len;
  }
  const Level again = ps.lock.acquire(where);
  ps.big_locks.fetch_add(1, std::memory_order_relaxed);
  link_huge_locked(ps, rec);
  ps.big_bytes.fetch_add(ok ? rec->size : old_size, std::memory_order_relaxed);
  if (ok) ps.mapped.fetch_add(len - old_len, std::memory_order_relaxed);  // modular: a shrink subtracts
  ps.lock.release(again, where);
  if (!ok) return nullptr;
  sample_peak(ps);
  return rec->block;
}

void unmap_huge_all(PoolState& ps) {
  for (HugeRecord*& head : ps.huge)
    while (HugeRecord* rec = head) {
      head = rec->next;
      munmap(rec, rec->map_len);
    }
  for (unsigned i = 0; i < ps.huge_cached; ++i) munmap(ps.huge_cache[i].map, ps.huge_cache[i].len);
  ps.huge_cached = 0;
}

}  // namespace smplock::npp::detail
