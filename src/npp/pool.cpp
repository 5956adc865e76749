// The non-paged pool: per-CPU free lists used under the pool's level (the fast path), lock-free
// remote frees, the depot and page heap under the pool's lock, guard bands, and the thread-exit
// hand-back. Large and huge blocks (page-heap spans, mappings of their own, the huge cache) are in
// huge.cpp; what the two files share is declared in heap.hpp.
//
// A small block's life. malloc pops the CPU's free list for the class. When the list is empty the
// CPU looks, in order and without a lock: at its inbox (blocks of its own slabs that other CPUs
// freed), at the orphans (blocks freed to CPUs whose thread has ended), at the slab it is carving.
// Only then does it take the pool's lock, for a chain from the depot or a new slab. free pushes
// onto the CPU's list when the CPU owns the block's slab; otherwise the block joins a batch for
// its owner, pushed to the owner's inbox in one CAS every kOutBatch blocks. A list that grows past
// its class's limit drains three quarters of itself to the depot under the lock.
//
// Bounded work, whatever the history (issue 11): under the pool's lock nothing walks a chain of
// blocks (a depot chain is a record: head and length; a put or a take is O(1)), deferred large
// frees are done a few per hold, and the peak is sampled after the lock is released. At the
// raised level a CPU walks at most a quarter of its list (a drain's cut) or half a list's limit
// (a refill from a chain of unknown length: the rest waits in the CPU's spill). Only lock-free
// hand-overs at the CPU's own level (an ending thread's inboxes, a vacant CPU's batches going to
// the orphans) walk a chain of any length. `locked_walk_max` / `raised_walk_max` record it.
//
// Memory orders, once for the whole file (each site that differs says why):
//   - counters (CpuCache, LocalList, PoolState's): relaxed. They order nothing; a CPU's own are
//     bumped with a plain load and store (only it writes them), shared ones with fetch_add.
//   - ps.cpus[i] / t_np_cache on the fast paths: relaxed. The pointer was stored by this same
//     thread (claim), or by the index's previous thread, which the core's index hand-over (release
//     when freed, acquire when taken) orders before us.
//   - ps.all[i]: release when published, acquire when another CPU loads it to push to its inbox.
//   - ps.base / ps.frontier: base is read relaxed and only used with a frontier loaded with
//     acquire (pairs with the release in alloc_pages); a block's own hand-over between threads
//     orders its page's descriptor in any case.
//   - inboxes, orphans, deferred_large: CAS push (release at least; seq_cst for inboxes, see
//     rescue_if_vacant), exchange take (acquire): the taker sees the links the pusher wrote.
//   - g_debug: relaxed, a switch that orders nothing (a block's kind is in the block).
#include "npp/heap.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <new>

#include "internal.hpp"
#include "platform/platform.hpp"

namespace smplock::npp::detail {

using smplock::detail::attach_this_thread;
using smplock::detail::bump;
using smplock::detail::tls_cpu;

namespace {

constexpr std::size_t kGiB = std::size_t{1} << 30;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t kDefaultReserve = 8 * kGiB;  // sanitizers shadow what is mapped: stay modest
#else
constexpr std::size_t kDefaultReserve = 64 * kGiB;
#endif
constexpr std::size_t kPoolReserve = 4 * kGiB;
constexpr std::size_t kMinReserve = 64 << 20;
constexpr std::uint32_t kOutBatch = 32;         // remote frees gathered before one push
constexpr unsigned kReleasePages = 16;          // free large spans this long go back to the OS
                                                // (past kDirtyFreeMax bytes of them, sizes.hpp)

// Debug guard bands: [magic ^ block][requested size][quota][poison 8] user bytes [poison to end]
constexpr std::size_t kGuardHead = 32;
constexpr std::size_t kGuardTailMin = 16;
constexpr std::uint64_t kGuardMagic = 0x9e3779b97f4a7c15ull;
constexpr std::uint8_t kGuardPoison = 0xAB;
constexpr std::uint8_t kFreePoison = 0xDD;
constexpr std::uint64_t kGuardPoison8 = 0xABABABABABABABABull;

std::atomic<bool> g_debug{false};
// The malloc fast path's bound on `size - 1` for the arithmetic classes (1..kFineMax bytes): 0
// while debug is on, so the same compare sends every request to the general path. Relaxed, set
// with g_debug (a switch that orders nothing).
std::atomic<std::size_t> g_fine_fast{kFineMax};

// A copy of the class table with internal linkage: the fast paths address it directly, not
// through the GOT as they would the header's inline variable.
constexpr ClassTable kT = make_class_table();
inline unsigned local_class_of(std::size_t n) { return kT.by16[(n + 15) >> 4]; }


// This thread's exit hook: 0 not armed yet, 1 armed, 2 already run (the thread is ending; later
// calls still work but are not handed back again). Initial-exec: read on the fast path.
__thread int t_exit_state __attribute__((tls_model("initial-exec"))) = 0;

// What t_np_cache points at while the thread has no cache of the default pool: its `cpu` is
// detail::kNoCpuRecord, which no thread's tls_cpu (null or a CPU record) ever equals.
constinit CacheHead g_no_cache{smplock::detail::kNoCpuRecord, 0};

// The default pool's cache of this thread's CPU, so the fast paths need not go CPU -> index ->
// table. Valid only while its `cpu` is the thread's tls_cpu (a thread that detached and attached
// again may have another index): the fast paths check that, claim() sets it, the exit hand-back
// resets it. Never null, so the check is one compare.
__thread CacheHead* t_np_cache __attribute__((tls_model("initial-exec"))) = &g_no_cache;

// The default pool: constant-initialised (a preloaded malloc is called before any constructor
// runs) and never destroyed (threads may still free while the program exits).
union DefaultStorage {
  PoolState state;
  constexpr DefaultStorage() : state(Level::NP, "NP", 0) {}
  ~DefaultStorage() {}
};
constinit DefaultStorage g_default;

#ifdef SMPLOCK_NPP_PRELOAD
// The drop-in malloc: a thread that frees without ever having allocated (a consumer: one thread
// allocates, another frees, as in xmalloc-test) becomes a CPU at its 65th free, as its first
// malloc would have made it one. Before, each of its frees was a stray free (below: one CAS on
// the owner's inbox and two shared counters per block, and the owner then walked a chain built
// one block at a time by another CPU): 55% of xmalloc-test's time (issue 16). The first frees
// stay stray, so a thread that frees a little while it ends (glibc frees thread buffers after the
// pthread key destructors) is not attached then; t_exit_state 0: the thread never had a cache.
constexpr unsigned kFreesBeforeAttach = 64;
__thread unsigned t_stray_count __attribute__((tls_model("initial-exec"))) = 0;
inline bool attach_to_free(const PoolState& ps) {
  return &ps == &g_default.state && t_exit_state == 0 &&
         ++t_stray_count == kFreesBeforeAttach + 1;  // once: a handler nested in the attach stays stray
}
#endif

inline std::uint8_t level_of(const PoolState& ps) { return to_int(ps.level); }

// Counts one on a counter this CPU owns, for the fast paths: like bump(), no locked instruction,
// but on x86-64 one `add` to memory instead of a load, an add and a store (Linux's this_cpu_inc):
// an instruction is never split by a signal handler, the same CPU, and an aligned 8-byte store is
// seen whole by a snapshot on another CPU (what bump's relaxed store promises). Under TSan, bump
// itself, so the counters stay visible to the race checker.
inline void count_one(std::atomic<std::uint64_t>& counter) {
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
  static_assert(sizeof counter == sizeof(std::uint64_t) && std::atomic<std::uint64_t>::is_always_lock_free);
  asm("addq $1, %0" : "+m"(counter));
#else
  bump(counter);
#endif
}

// Raising the CPU to the pool's level keeps every handler that could use the pool off this CPU;
// the signal fence keeps the compiler from moving the list work above the store (a handler is
// this same CPU, so a compiler fence is all the ordering needed).
inline void raise_to(CpuRecord& cpu, std::uint8_t level) {
  cpu.level.store(level, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}
// Back down: the fence first (the list work stays above the store), then interrupts that came
// meanwhile and that the lower level allows.
inline void lower_to(CpuRecord& cpu, std::uint8_t level) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  cpu.level.store(level, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (cpu.pending.load(std::memory_order_relaxed) != 0) [[unlikely]]
    smplock::detail::deliver_pending(cpu);
}

inline std::uintptr_t key_of(const PoolState& ps, const void* b) {
  return reinterpret_cast<std::uintptr_t>(b) ^ ps.secret;
}

}  // namespace

void crash(PoolState& ps, Rule rule, const char* what, CpuRecord* cpu, std::source_location where) {
  smplock::detail::violation(rule, what, &ps.lock, cpu, where, "pool", level_of(ps));
}

namespace {

[[noreturn]] __attribute__((cold)) void r8(PoolState& ps, CpuRecord* cpu, const char* what,
                                           std::source_location where) {
  crash(ps, Rule::R8_PoolBelowNP, what, cpu, where);
}

// What a malloc does when memory runs out: return nullptr, crash (npp::malloc), or return nullptr
// with errno ENOMEM (the C malloc of the preload library).
enum class Oom : unsigned { Null = 0, Crash = 1, Errno = 2 };

void* out_of_memory(PoolState& ps, CpuRecord* cpu, bool crash_on_oom, std::source_location where) {
  if (crash_on_oom)
    crash(ps, Rule::Fatal, "npp: out of memory (the pool's address space or the OS is exhausted)", cpu, where);
  return nullptr;
}

// The last block of a chain: a walk of any length, so only for lock-free hand-overs at the CPU's
// own level, never under the lock or raised.
Block* chain_tail(Block* head) {
  while (head->next != nullptr) head = head->next;
  return head;
}

// Records a walk of `steps` links in `longest` (the walk counters of PoolState).
inline void note_walk(std::atomic<std::uint64_t>& longest, std::uint64_t steps) {
  if (steps > longest.load(std::memory_order_relaxed)) [[unlikely]]
    smplock::detail::atomic_max(longest, steps);
}

// Pushes the chain head..tail onto a lock-free list. seq_cst: an inbox push must be ordered
// before the pusher's check of the owner's `vacant` flag (Dekker with the owner's exit, see
// flush_cpu()); release at least, so the taker sees the links.
void push_chain(std::atomic<Block*>& list, Block* head, Block* tail) {
  Block* old = list.load(std::memory_order_relaxed);
  do {
    tail->next = old;
  } while (!list.compare_exchange_weak(old, head, std::memory_order_seq_cst, std::memory_order_relaxed));
}

// A chain of unknown length to the orphans, lock-free: as it is when the orphans are empty, else
// after a walk to its tail (at the caller's own level, no lock held).
void give_to_orphans(PoolState& ps, unsigned cls, Block* chain) {
  if (chain == nullptr) return;
  Block* none = nullptr;
  // Release: a taker's acquire exchange sees the chain's links.
  if (ps.orphans[cls].compare_exchange_strong(none, chain, std::memory_order_seq_cst, std::memory_order_relaxed)) return;
  push_chain(ps.orphans[cls], chain, chain_tail(chain));
}

// After pushing to a CPU's inbox: if that CPU's thread has ended (and may have already emptied
// the inbox for the last time), take the inbox back and leave it with the orphans instead.
void rescue_if_vacant(PoolState& ps, CpuCache& owner, unsigned cls) {
  if (!owner.vacant.load(std::memory_order_seq_cst)) [[likely]]
    return;
  // Acquire pairs with the pushes' release: the links are visible.
  give_to_orphans(ps, cls, owner.inbox[cls].exchange(nullptr, std::memory_order_acquire));
}

}  // namespace

// --- region and page heap (under the lock) -----------------------------------------------------

void* map_anon(std::size_t len) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

bool init_locked(PoolState& ps) {
  if (ps.initialised) [[likely]]
    return true;
  std::size_t want = ps.reserve_request != 0 ? ps.reserve_request
                                             : (&ps == &g_default.state ? kDefaultReserve : kPoolReserve);
  want = (want + kPageSize - 1) & ~(kPageSize - 1);
  for (; want >= kMinReserve; want /= 2) {
    // Reserve with room to align the start to a page; MAP_NORESERVE: only touched pages count.
    void* map = map_anon(want + kPageSize);
    if (map == nullptr) continue;
    const std::size_t span_bytes = ((want >> kPageShift) * sizeof(Span) + kOsPage - 1) & ~(kOsPage - 1);
    void* spans = map_anon(span_bytes);
    if (spans == nullptr) {
      munmap(map, want + kPageSize);
      continue;
    }
    const auto raw = reinterpret_cast<std::uintptr_t>(map);
    const std::uintptr_t aligned = (raw + kPageSize - 1) & ~(kPageSize - 1);
    ps.map_raw = static_cast<char*>(map);
    ps.map_len = want + kPageSize;
    ps.reserved = want;
    ps.span_bytes = span_bytes;
    ps.spans = static_cast<Span*>(spans);
    // The secret only has to differ between runs and from anything a program stores by chance.
    ps.secret = (raw ^ (platform::now_ns() * 0x9e3779b97f4a7c15ull)) | 1;
    // Release: a thread that learns `base` from a block it was given also sees spans and secret
    // (it learns it through the program's own hand-over of the block in practice).
    ps.base.store(reinterpret_cast<char*>(aligned), std::memory_order_release);
    ps.initialised = true;
    return true;
  }
  return false;
}

static void set_heads(Span* first, std::size_t pages) {
  for (std::size_t i = 0; i < pages; ++i) first[i].head = static_cast<std::uint32_t>(i);
  first->pages = static_cast<std::uint16_t>(pages);
}

// Free spans of kReleasePages pages or more that still hold their pages (not given back with
// madvise) count in ps.dirty_free: at most kDirtyFreeMax bytes of them are kept (issue 16: given
// back on every free, a program that frees and allocates 1..4 MiB blocks faulted every page in
// again each time). Smaller free spans are never given back, as before.
static inline std::size_t dirty_bytes(const Span* s) {
  return !s->clean && s->pages >= kReleasePages ? std::size_t{s->pages} << kPageShift : 0;
}

// A span of `pages` (1..kLargeMaxPages) pages. `clean`, if given, learns whether every byte of
// it reads zero (pages never handed out, or given back to the OS since).
Span* alloc_pages(PoolState& ps, std::size_t pages, bool* clean) {
  Span* s = ps.free_spans[pages];
  bool zero = false;
  if (s != nullptr) {
    ps.free_spans[pages] = s->next;
    zero = s->clean;
    ps.dirty_free -= dirty_bytes(s);
  } else {
    for (std::size_t j = pages + 1; j <= kLargeMaxPages && s == nullptr; ++j) {
      if ((s = ps.free_spans[j]) == nullptr) continue;
      ps.free_spans[j] = s->next;
      ps.dirty_free -= dirty_bytes(s);
      Span* rest = s + pages;  // the remainder goes back as a free span of its own
      set_heads(rest, j - pages);
      rest->kind = SpanKind::FreeSpan;
      rest->clean = zero = s->clean;
      ps.dirty_free += dirty_bytes(rest);
      rest->next = ps.free_spans[j - pages];
      ps.free_spans[j - pages] = rest;
    }
    if (s == nullptr) {
      const std::size_t used = ps.frontier.load(std::memory_order_relaxed) >> kPageShift;
      if (used + pages > (ps.reserved >> kPageShift)) return nullptr;
      s = ps.spans + used;
      // Release: the spans just written (below, before any block is handed out) are seen by a
      // free that finds the new frontier; in practice the block's hand-over orders them anyway.
      ps.frontier.store((used + pages) << kPageShift, std::memory_order_release);
      ps.mapped.fetch_add(pages << kPageShift, std::memory_order_relaxed);
      zero = true;  // never touched since the reservation was mapped
    }
  }
  if (clean != nullptr) *clean = zero;
  set_heads(s, pages);
  s->next = nullptr;
  s->block = nullptr;
  s->size = 0;
  s->owner = kNoOwner;
  return s;
}

void free_span(PoolState& ps, Span* s) {
  s->kind = SpanKind::FreeSpan;
  s->block = nullptr;
  // Kept with its pages while the dirty free spans stay within kDirtyFreeMax; past it, given back
  // (MADV_DONTNEED on private anonymous memory: the pages read zero from now on).
  const std::size_t bytes = std::size_t{s->pages} << kPageShift;
  s->clean = s->pages >= kReleasePages && ps.dirty_free + bytes > kDirtyFreeMax &&
             madvise(span_addr(ps, s), bytes, MADV_DONTNEED) == 0;
  ps.dirty_free += dirty_bytes(s);
  s->next = ps.free_spans[s->pages];
  ps.free_spans[s->pages] = s;
}

namespace {

// --- depot (under the lock) ----------------------------------------------------------------------

// A chain record: a given-back one, else the next of the records page being cut, else a new page.
ChainRec* new_rec(PoolState& ps) {
  if (ChainRec* r = ps.free_recs) {
    ps.free_recs = r->next;
    return r;
  }
  if (ps.rec_next == ps.rec_end) {
    Span* s = init_locked(ps) ? alloc_pages(ps, 1) : nullptr;
    if (s == nullptr) return nullptr;
    s->kind = SpanKind::Records;
    ps.rec_next = reinterpret_cast<ChainRec*>(span_addr(ps, s));
    ps.rec_end = ps.rec_next + kPageSize / sizeof(ChainRec);
  }
  return ps.rec_next++;
}

// Puts the null-terminated chain `head` of `count` blocks on the depot: O(1). With no record to
// be had (the region is full), the chain goes to the orphans instead, after a walk of at most a
// drain's worth of blocks.
void depot_put(PoolState& ps, unsigned cls, Block* head, std::uint32_t count) {
  if (head == nullptr) return;
  ChainRec* r = new_rec(ps);
  if (r == nullptr) [[unlikely]] {
    Block* tail = head;
    std::uint64_t steps = 0;
    for (; tail->next != nullptr; ++steps) tail = tail->next;
    note_walk(ps.locked_walk_max, steps);
    push_chain(ps.orphans[cls], head, tail);
    return;
  }
  Depot& d = ps.depot[cls];
  *r = ChainRec{head, d.top, count};
  d.top = r;
  ++d.chains;
}

// --- statistics ----------------------------------------------------------------------------------

std::uint64_t bytes_in_use(const PoolState& ps) {
  std::uint64_t sum = 0;  // modular: the per-CPU parts may be "negative"
  const int top = ps.max_cpu.load(std::memory_order_relaxed);
  for (int i = 0; i <= top; ++i)
    if (const CpuCache* pc = ps.all[i].load(std::memory_order_acquire))
      for (unsigned c = 1; c < kSizeClasses; ++c)
        sum += kT.size[c] * (pc->list[c].allocs.load(std::memory_order_relaxed) -
                             pc->list[c].frees.load(std::memory_order_relaxed));
  sum += ps.big_bytes.load(std::memory_order_relaxed);
  sum -= ps.stray_bytes.load(std::memory_order_relaxed);
  return static_cast<std::int64_t>(sum) < 0 ? 0 : sum;
}

}  // namespace

void sample_peak(PoolState& ps) { smplock::detail::atomic_max(ps.peak, bytes_in_use(ps)); }

namespace {

// The small-block part of the peak costs a pass over every CPU's class counters: sample it on one
// lock-taking slow path in 16 of the CPU's (and on every snapshot and large block).
void sample_peak_sometimes(PoolState& ps, CpuCache& pc) {
  if ((pc.locks.load(std::memory_order_relaxed) & 15) == 0) sample_peak(ps);
}

// --- per-CPU caches --------------------------------------------------------------------------------

void arm_thread_exit();

// The cache of the calling CPU, made (or taken over from the index's previous thread) on first
// use. Called at the CPU's own level, never raised. nullptr when memory runs out.
__attribute__((noinline)) CpuCache* claim(PoolState& ps, CpuRecord& cpu, std::source_location where) {
  if (t_exit_state == 0) arm_thread_exit();  // may call malloc itself: t_exit_state is 1 by then
  CpuCache* pc = ps.cpus[cpu.index].load(std::memory_order_acquire);
  if (pc != nullptr) {
    if (&ps == &g_default.state) t_np_cache = pc;
    return pc;
  }
  const Level prev = ps.lock.acquire(where);
  if (init_locked(ps)) {
    pc = ps.all[cpu.index].load(std::memory_order_relaxed);
    if (pc == nullptr) {
      const std::size_t len = (sizeof(CpuCache) + kOsPage - 1) & ~(kOsPage - 1);
      if (void* mem = map_anon(len)) {
        pc = new (mem) CpuCache();
        pc->cpu = &cpu;
        pc->span_tag = small_slab_word(cpu.index);
        for (unsigned cls = 1; cls < kSizeClasses; ++cls) pc->list[cls].room = kT.limit[cls];
        ps.mapped.fetch_add(len, std::memory_order_relaxed);
        // Release: snapshots and remote pushers that load the pointer see a constructed cache.
        ps.all[cpu.index].store(pc, std::memory_order_release);
        int top = ps.max_cpu.load(std::memory_order_relaxed);
        while (top < cpu.index && !ps.max_cpu.compare_exchange_weak(top, cpu.index, std::memory_order_relaxed)) {
        }
      }
    }
    if (pc != nullptr) {
      pc->vacant.store(false, std::memory_order_seq_cst);
      bump(pc->locks);
      bump(pc->slow);
      ps.cpus[cpu.index].store(pc, std::memory_order_release);
      if (&ps == &g_default.state) t_np_cache = pc;
    }
  }
  ps.lock.release(prev, where);
  return pc;
}

// Cuts up to the class's carve count of blocks from the CPU's current slab: the first is
// returned, the rest go on the (empty) list.
inline Block* carve(PoolState& ps, CpuCache& pc, unsigned cls) {
  Carve& cv = pc.carve[cls];
  const std::size_t size = kT.size[cls];
  const std::size_t avail = static_cast<std::size_t>(cv.end - cv.next) / size;
  if (avail == 0) return nullptr;
  const std::size_t n = avail < kT.carve[cls] ? avail : kT.carve[cls];
  char* p = cv.next;
  LocalList& list = pc.list[cls];
  for (std::size_t i = n; i-- > 1;) {
    Block* b = reinterpret_cast<Block*>(p + i * size);
    b->next = list.head;
    b->key = key_of(ps, b);
    list.head = b;
  }
  list.room -= static_cast<std::int32_t>(n - 1);
  cv.next = p + n * size;
  return reinterpret_cast<Block*>(p);
}

Block* refill_locked(PoolState& ps, CpuRecord& cpu, CpuCache& pc, unsigned cls) {
  process_deferred(ps, &cpu);
  LocalList& list = pc.list[cls];
  if (Block* b = list.head) {  // a handler refilled the list while we waited for the lock
    list.head = b->next;
    ++list.room;
    return b;
  }
  Depot& d = ps.depot[cls];
  if (ChainRec* r = d.top) {
    d.top = r->next;
    --d.chains;
    Block* head = r->head;
    list.head = head->next;
    list.room = kT.limit[cls] - (static_cast<std::int32_t>(r->count) - 1);
    r->next = ps.free_recs;
    ps.free_recs = r;
    return head;
  }
  if (!init_locked(ps)) return nullptr;
  Span* s = alloc_pages(ps, kT.pages[cls]);
  if (s == nullptr) return nullptr;
  s->kind = SpanKind::Small;
  s->cls = static_cast<std::uint8_t>(cls);
  s->shift = kT.shift[cls];
  s->blocks = kT.blocks[cls];
  s->inverse = kT.inverse[cls];
  s->owner = static_cast<std::uint16_t>(cpu.index);
  char* addr = span_addr(ps, s);
  const std::size_t size = kT.size[cls];
  pc.carve[cls].next = addr;
  pc.carve[cls].end = addr + ((std::size_t{s->pages} << kPageShift) / size) * size;
  return carve(ps, pc, cls);
}

// The list for `cls` is empty. Level raised to the pool's on entry and on return. nullptr: out of
// memory.
// Blocks a refill takes from a chain of unknown length (spill, inbox, orphans) at most.
inline std::uint32_t spill_take(unsigned cls) { return kT.limit[cls] / 2u; }

// The (empty) list for `cls` gets the chain `b` of unknown length: at most spill_take() blocks of
// it, the first for the caller, the rest on the list, counted. What is left over is returned.
Block* take_some(PoolState& ps, LocalList& list, unsigned cls, Block* b, Block*& left) {
  Block* last = b;
  std::uint32_t n = 1;
  for (const std::uint32_t most = spill_take(cls); n < most && last->next != nullptr; ++n) last = last->next;
  note_walk(ps.raised_walk_max, n - 1);
  left = last->next;
  last->next = nullptr;
  list.head = b->next;
  list.room = kT.limit[cls] - static_cast<std::int32_t>(n - 1);
  return b;
}

// The list for `cls` is empty. Level raised on entry and on return. nullptr: out of memory.
__attribute__((noinline)) Block* refill(PoolState& ps, CpuRecord& cpu, CpuCache& pc, unsigned cls, std::uint8_t lvl,
                                        std::source_location where) {
  bump(pc.slow);
  LocalList& list = pc.list[cls];
  list.room = kT.limit[cls];
  Block* left;
  // What an earlier refill left over, then the inbox, then the orphans (acquire pairs with the
  // pushers' CAS, so their links are visible).
  if (Block* b = pc.spill[cls]) {
    b = take_some(ps, list, cls, b, left);
    pc.spill[cls] = left;
    return b;
  }
  if (pc.inbox[cls].load(std::memory_order_relaxed) != nullptr) {
    if (Block* b = pc.inbox[cls].exchange(nullptr, std::memory_order_acquire)) {
      b = take_some(ps, list, cls, b, left);
      pc.spill[cls] = left;
      return b;
    }
  }
  if (ps.orphans[cls].load(std::memory_order_relaxed) != nullptr) {
    if (Block* b = ps.orphans[cls].exchange(nullptr, std::memory_order_acquire)) {
      b = take_some(ps, list, cls, b, left);
      // The rest back to the orphans for every CPU if they are still empty (no walk), else ours.
      Block* none = nullptr;
      if (left != nullptr && !ps.orphans[cls].compare_exchange_strong(none, left, std::memory_order_seq_cst,
                                                                      std::memory_order_relaxed))
        pc.spill[cls] = left;
      return b;
    }
  }
  if (Block* b = carve(ps, pc, cls)) return b;
  // The lock: come down to our own level first (the acquire raises us to the pool's again).
  lower_to(cpu, lvl);
  const Level prev = ps.lock.acquire(where);
  bump(pc.locks);
  Block* b = refill_locked(ps, cpu, pc, cls);
  ps.lock.release(prev, where);
  sample_peak_sometimes(ps, pc);
  raise_to(cpu, level_of(ps));
  return b;
}

// The list for `cls` passed its limit: three quarters go to the depot. Level raised on entry and
// on return.
__attribute__((noinline)) void drain(PoolState& ps, CpuRecord& cpu, CpuCache& pc, unsigned cls, std::uint8_t lvl,
                                     std::source_location where) {
  bump(pc.slow);
  // The cut, at the raised level and before the lock (the list is this CPU's alone while it is
  // raised): `keep` blocks stay, the rest, whose length the room says, is one chain for the depot.
  LocalList& list = pc.list[cls];
  const std::int32_t keep = kT.limit[cls] / 4;
  const std::int32_t count = kT.limit[cls] - list.room;
  Block* head = nullptr;
  if (count > keep) {
    Block* cut = list.head;
    for (std::int32_t i = 1; i < keep; ++i) cut = cut->next;
    note_walk(ps.raised_walk_max, static_cast<std::uint64_t>(keep - 1));
    head = cut->next;
    cut->next = nullptr;
    list.room = kT.limit[cls] - keep;
  }
  lower_to(cpu, lvl);
  const Level prev = ps.lock.acquire(where);
  bump(pc.locks);
  depot_put(ps, cls, head, static_cast<std::uint32_t>(count - keep));
  process_deferred(ps, &cpu);
  ps.lock.release(prev, where);
  sample_peak_sometimes(ps, pc);
  raise_to(cpu, level_of(ps));
}

// Sends the CPU's batch of remote frees for `cls` to its owner's inbox, unless the owner has not
// taken the previous one yet: then the blocks stay here (the list may drain them to the depot),
// which bounds what an idle owner's inbox can hold. Level raised on entry and on return.
__attribute__((noinline)) void flush_outgoing(PoolState& ps, CpuRecord& cpu, CpuCache& pc, unsigned cls,
                                              std::uint8_t lvl, std::source_location where) {
  Outgoing& o = pc.out[cls];
  if (o.head == nullptr) return;
  bump(pc.slow);
  Block* head = o.head;
  Block* tail = o.tail;
  const std::uint32_t n = o.count;
  CpuCache* owner = ps.all[o.owner].load(std::memory_order_acquire);
  o = Outgoing{};
  if (owner->inbox[cls].load(std::memory_order_relaxed) == nullptr) {
    push_chain(owner->inbox[cls], head, tail);
    bump(pc.remote_batches);
    rescue_if_vacant(ps, *owner, cls);
    return;
  }
  LocalList& list = pc.list[cls];
  tail->next = list.head;
  list.head = head;
  list.room -= static_cast<std::int32_t>(n);
  if (list.room < 0) drain(ps, cpu, pc, cls, lvl, where);
}

// A small block freed by a thread that is no CPU (it never used the library, or it is ending):
// straight onto the owner's inbox, lock-free, one block at a time.
void stray_free(PoolState& ps, const Span* s, Block* b) {
  b->key = key_of(ps, b);
  CpuCache* owner = ps.all[s->owner].load(std::memory_order_acquire);
  push_chain(owner->inbox[s->cls], b, b);
  rescue_if_vacant(ps, *owner, s->cls);
  ps.stray_frees.fetch_add(1, std::memory_order_relaxed);
  ps.stray_bytes.fetch_add(kT.size[s->cls], std::memory_order_relaxed);
}

// --- calls from a program's own signal handler (the preload library) ------------------------------
//
// In the preload library no program code can hold one of the pool's locks or run one of its
// interrupt handlers (its copy of smplock is hidden), so a call that finds the CPU at or above
// NP can only come from a signal handler of the program that interrupted the pool on this very
// thread. glibc lets such a handler allocate (POSIX leaves it undefined); so does the preload,
// on a path that touches nothing the interrupted call may be changing: no CPU list, no lock.
//   malloc: a mapping of its own, recorded in a lock-free table of kNestedSlots blocks (a full
//           table is ENOMEM); free and usable_size find it there.
//   free:   a small block goes to its slab owner's inbox (as a thread that is no CPU frees), a
//           large or huge one to a lock-free list the next lock holder finishes.
// npp::malloc and the library build keep R8: there, the same call is a program's error.
struct NestedHead {  // just before a nested block
  char* map;
  std::size_t len;
  std::size_t size;  // usable bytes from the block
  std::size_t unused;
};

#ifdef SMPLOCK_NPP_PRELOAD
constexpr unsigned kNestedSlots = 1024;
std::atomic<char*> g_nested[kNestedSlots]{};
std::atomic<unsigned> g_nested_live{0};

void* nested_malloc(std::size_t size, std::size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return nullptr;
  if (alignment < kAlignment) alignment = kAlignment;
  if (size == 0) size = 1;
  const std::size_t slack = alignment > kOsPage ? alignment : 0;
  std::size_t len = kOsPage + size + slack;
  if (len < size) return nullptr;
  len = (len + kOsPage - 1) & ~(kOsPage - 1);
  if (len < size) return nullptr;
  char* map = static_cast<char*>(map_anon(len));
  if (map == nullptr) return nullptr;
  char* block = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(map) + kOsPage + alignment - 1) & ~(alignment - 1));
  *(reinterpret_cast<NestedHead*>(block) - 1) = NestedHead{map, len, static_cast<std::size_t>(map + len - block), 0};
  for (auto& slot : g_nested) {
    char* none = nullptr;
    if (slot.load(std::memory_order_relaxed) == nullptr &&
        slot.compare_exchange_strong(none, block, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      g_nested_live.fetch_add(1, std::memory_order_release);
      return block;
    }
  }
  munmap(map, len);
  return nullptr;
}

// The nested block p's header (with `take`, its slot is freed), or nullptr: not a nested block.
NestedHead* nested_find(const void* p, bool take) {
  if (g_nested_live.load(std::memory_order_acquire) == 0) [[likely]]
    return nullptr;
  for (auto& slot : g_nested) {
    char* b = slot.load(std::memory_order_acquire);
    if (b != p) continue;
    if (take) {
      if (!slot.compare_exchange_strong(b, nullptr, std::memory_order_acq_rel)) return nullptr;
      g_nested_live.fetch_sub(1, std::memory_order_relaxed);
    }
    return reinterpret_cast<NestedHead*>(b) - 1;
  }
  return nullptr;
}

bool nested_free_if_ours(void* p) {
  NestedHead* h = nested_find(p, true);
  if (h == nullptr) return false;
  munmap(h->map, h->len);
  return true;
}

// free(p) with the CPU at or above NP. Never takes the lock, never touches this CPU's lists.
void nested_free(PoolState& ps, CpuRecord* cpu, void* p, std::source_location where) {
  if (p == nullptr || nested_free_if_ours(p)) return;
  const std::uintptr_t off = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(ps.base.load(std::memory_order_relaxed));
  Block* b = static_cast<Block*>(p);
  if (off >= ps.frontier.load(std::memory_order_acquire)) {
    push_chain(ps.deferred_huge, b, b);  // checked (and a foreign pointer caught) by the lock holder
    return;
  }
  const Span* s = ps.spans + (off >> kPageShift);
  s -= s->head;
  if (s->kind == SpanKind::Large && s->block == p) {
    ps.big_bytes.fetch_sub(s->size, std::memory_order_relaxed);
    ps.large_frees.fetch_add(1, std::memory_order_relaxed);
    push_chain(ps.deferred_large, b, b);
    return;
  }
  if (s->kind != SpanKind::Small)
    crash(ps, Rule::Fatal, "npp: free of a pointer the pool did not hand out (foreign pointer)", cpu, where);
  const std::uintptr_t in = off - (static_cast<std::uintptr_t>(s - ps.spans) << kPageShift);
  const std::uintptr_t start = ((in * kT.recip[s->cls]) >> kRecipShift) * kT.size[s->cls];
  if (in != start || start + kT.size[s->cls] > (std::uintptr_t{s->pages} << kPageShift))
    crash(ps, Rule::Fatal, "npp: free of a pointer inside a block, not one the pool handed out", cpu, where);
  if (b->key == key_of(ps, b)) crash(ps, Rule::Fatal, "npp: double free (the block is already free)", cpu, where);
  stray_free(ps, s, b);
}
#else
inline NestedHead* nested_find(const void*, bool) { return nullptr; }
inline bool nested_free_if_ours(void*) { return false; }
#endif

// --- guard bands ------------------------------------------------------------------------------------

void* guard_block(char* block, unsigned cls, std::size_t size, Quota* quota) {
  auto* h = reinterpret_cast<std::uint64_t*>(block);
  h[0] = kGuardMagic ^ reinterpret_cast<std::uintptr_t>(block);
  h[1] = size;
  h[2] = reinterpret_cast<std::uintptr_t>(quota);
  h[3] = kGuardPoison8;
  std::memset(block + kGuardHead + size, kGuardPoison, kT.size[cls] - kGuardHead - size);
  return block + kGuardHead;
}

// A free whose pointer is not the start of a block: a guarded block's user pointer, or a crash.
// Returns the block to free.
__attribute__((noinline)) Block* odd_free(PoolState& ps, CpuRecord* cpu, void* p, Block* b, unsigned cls,
                                          Quota* quota, std::source_location where) {
  char* block = reinterpret_cast<char*>(b);
  if (static_cast<char*>(p) != block + kGuardHead)
    crash(ps, Rule::Fatal, "npp: free of a pointer inside a block, not one the pool handed out", cpu, where);
  if (b->key == key_of(ps, b)) crash(ps, Rule::Fatal, "npp: double free of a guarded block", cpu, where);
  const auto* h = reinterpret_cast<const std::uint64_t*>(block);
  if (h[0] != (kGuardMagic ^ reinterpret_cast<std::uintptr_t>(block)))
    crash(ps, Rule::Fatal, "npp: free of a pointer inside a block (no guard header there)", cpu, where);
  const std::size_t size = h[1];
  const std::size_t capacity = kT.size[cls];
  if (size > capacity - kGuardHead - kGuardTailMin)
    crash(ps, Rule::Fatal, "npp: guard header damaged (size field overwritten)", cpu, where);
  if (h[3] != kGuardPoison8)
    crash(ps, Rule::Fatal, "npp: guard band before the block overwritten (buffer underrun)", cpu, where);
  for (std::size_t i = kGuardHead + size; i < capacity; ++i)
    if (static_cast<std::uint8_t>(block[i]) != kGuardPoison)
      crash(ps, Rule::Fatal, "npp: guard band after the block overwritten (buffer overrun)", cpu, where);
  if (h[2] != reinterpret_cast<std::uintptr_t>(quota))
    crash(ps, Rule::Fatal, "npp: block freed with another quota than it was charged to", cpu, where);
  return b;
}

// Debug mode: fills a freed block with poison (its link and key words excepted).
inline void poison(Block* b, std::size_t size) {
  std::memset(reinterpret_cast<char*>(b) + sizeof(Block), kFreePoison, size - sizeof(Block));
}

inline std::size_t class_for_alignment(std::size_t size, std::size_t alignment) {
  if (size < alignment) size = alignment;
  if (size > kSmallMax) return 0;
  unsigned c = local_class_of(size);
  while (c < kSizeClasses && kT.size[c] % alignment != 0) ++c;
  return c < kSizeClasses ? c : 0;
}

// Pop (or refill) a block of class `cls` for the calling CPU.
inline Block* small_alloc(PoolState& ps, CpuRecord& cpu, CpuCache& pc, unsigned cls, std::uint8_t lvl,
                          std::source_location where) {
  raise_to(cpu, level_of(ps));
  LocalList& list = pc.list[cls];
  Block* b = list.head;
  if (b != nullptr) [[likely]] {
    list.head = b->next;
    ++list.room;
  } else if ((b = refill(ps, cpu, pc, cls, lvl, where)) == nullptr) [[unlikely]] {
    lower_to(cpu, lvl);
    return nullptr;
  }
  b->key = 0;
  bump(list.allocs);
  lower_to(cpu, lvl);
  return b;
}

__attribute__((noinline)) void* malloc_slow(PoolState& ps, CpuRecord& cpu, std::uint8_t lvl, std::size_t size,
                                            std::size_t alignment, Quota* quota, bool crash_on_oom,
                                            std::source_location where) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) return nullptr;
  CpuCache* pc = claim(ps, cpu, where);
  if (pc == nullptr) return out_of_memory(ps, &cpu, crash_on_oom, where);
  void* result;
  if (alignment <= kAlignment && g_debug.load(std::memory_order_relaxed) &&
      size <= kSmallMax - kGuardHead - kGuardTailMin) {
    const unsigned cls = local_class_of(size + kGuardHead + kGuardTailMin);
    Block* b = small_alloc(ps, cpu, *pc, cls, lvl, where);
    result = b == nullptr ? nullptr : guard_block(reinterpret_cast<char*>(b), cls, size, quota);
  } else if (const std::size_t cls = alignment <= kAlignment ? (size <= kSmallMax ? local_class_of(size) : 0)
                                                           : (alignment <= 4096 ? class_for_alignment(size, alignment) : 0);
             cls != 0) {
    result = small_alloc(ps, cpu, *pc, static_cast<unsigned>(cls), lvl, where);
  } else {
    result = large_alloc(ps, cpu, size, alignment, where);
  }
  if (result == nullptr) return out_of_memory(ps, &cpu, crash_on_oom, where);
  return result;
}

// Frees of pointers outside this pool's region: another pool's, a huge block, or a crash.
__attribute__((noinline)) void free_elsewhere(PoolState& ps, CpuRecord* cpu, void* p, Quota* quota,
                                              std::source_location where) {
  for (auto& slot : g_pools) {
    PoolState* other = slot.load(std::memory_order_acquire);
    if (other != nullptr && other != &ps && in_region(*other, p)) return pool_free(*other, p, quota, where);
  }
  if (nested_free_if_ours(p)) return;
  // Huge blocks: ask each pool we may lock (below its level); attach if this thread is no CPU.
  if (cpu == nullptr) cpu = &smplock::detail::this_cpu();
  const std::uint8_t lvl = cpu->level.load(std::memory_order_relaxed);
  for (auto& slot : g_pools) {
    PoolState* other = slot.load(std::memory_order_acquire);
    if (other == nullptr || lvl >= level_of(*other)) continue;
    if (free_huge(*other, p, where)) return;
  }
  crash(ps, Rule::Fatal, "npp: free of a pointer the pool did not hand out (foreign pointer)", cpu, where);
}

__attribute__((noinline)) void large_free(PoolState& ps, CpuRecord* cpu, void* p, const Span* s,
                                          std::source_location where) {
  if (s->kind != SpanKind::Large || s->block != p) {
    // Take the lock to tell a double free from a foreign pointer (and crash either way).
    if (cpu == nullptr) cpu = &smplock::detail::this_cpu();
    (void)ps.lock.acquire(where);
    free_large_locked(ps, cpu, p, where);  // crashes
  }
  if (cpu == nullptr) {
    // No CPU to take the lock with: leave it for the next lock holder.
    ps.big_bytes.fetch_sub(s->size, std::memory_order_relaxed);
    ps.large_frees.fetch_add(1, std::memory_order_relaxed);
    Block* b = static_cast<Block*>(p);
    push_chain(ps.deferred_large, b, b);
    return;
  }
  const Level prev = ps.lock.acquire(where);
  ps.big_locks.fetch_add(1, std::memory_order_relaxed);
  process_deferred(ps, cpu);
  free_large_locked(ps, cpu, p, where);
  ps.lock.release(prev, where);
}

void flush_cpu(PoolState& ps, CpuRecord& cpu) {
  CpuCache* pc = ps.cpus[cpu.index].load(std::memory_order_relaxed);
  if (pc == nullptr || cpu.level.load(std::memory_order_relaxed) >= level_of(ps)) return;
  // Under the lock (which also raises the CPU, so its lists are its own): lists and batches go
  // to the depot, each one O(1) put, their lengths known.
  Block* spill[kSizeClasses];
  const Level prev = ps.lock.acquire();
  bump(pc->locks);
  for (unsigned cls = 1; cls < kSizeClasses; ++cls) {
    LocalList& list = pc->list[cls];
    depot_put(ps, cls, list.head, static_cast<std::uint32_t>(kT.limit[cls] - list.room));
    list.head = nullptr;
    list.room = kT.limit[cls];
    Outgoing& o = pc->out[cls];
    depot_put(ps, cls, o.head, o.count);
    o = Outgoing{};
    spill[cls] = pc->spill[cls];
    pc->spill[cls] = nullptr;
  }
  ps.cpus[cpu.index].store(nullptr, std::memory_order_relaxed);
  if (&ps == &g_default.state) t_np_cache = &g_no_cache;
  ps.lock.release(prev);
  // Lock-free from here, at the thread's own level: chains of unknown length go to the orphans.
  // Vacant first, then the last look at the inboxes: a pusher that missed this look sees the flag
  // (both seq_cst), see rescue_if_vacant().
  for (unsigned cls = 1; cls < kSizeClasses; ++cls) give_to_orphans(ps, cls, spill[cls]);
  pc->vacant.store(true, std::memory_order_seq_cst);
  for (unsigned cls = 1; cls < kSizeClasses; ++cls)
    give_to_orphans(ps, cls, pc->inbox[cls].exchange(nullptr, std::memory_order_seq_cst));
}

struct ThreadExit {
  ~ThreadExit() {
    t_exit_state = 2;
    CpuRecord* cpu = tls_cpu;
    if (cpu == nullptr) return;
    for (auto& slot : g_pools)
      if (PoolState* ps = slot.load(std::memory_order_acquire)) flush_cpu(*ps, *cpu);
  }
};

// A C++ thread_local destructor runs before the pthread key destructors, so before the core
// detaches the CPU: the cache is handed back while the thread still has its index. Registering it
// may allocate (glibc's __cxa_thread_atexit_impl calls calloc): t_exit_state is 1 by then, so a
// nested malloc does not come back here.
void arm_thread_exit() {
  t_exit_state = 1;
  static thread_local ThreadExit t_exit;
  (void)&t_exit;
}

// Arm the thread-exit hand-over when a thread becomes a CPU, in ordinary context: arming may
// allocate, which a first pool use inside an interrupt's signal handler must not do.
[[maybe_unused]] const bool g_armed_at_attach = smplock::detail::add_attach_hook([](CpuRecord&) {
  if (t_exit_state == 0) arm_thread_exit();
});

}  // namespace

std::atomic<PoolState*> g_pools[kMaxPools] = {&g_default.state};

PoolState& default_state() noexcept { return g_default.state; }

void check_r8(PoolState& ps, bool is_malloc, std::source_location where) {
  CpuRecord* cpu = tls_cpu;
  if (cpu != nullptr && cpu->level.load(std::memory_order_relaxed) >= level_of(ps)) [[unlikely]]
    r8(ps, cpu, is_malloc ? "npp::malloc at or above the pool's level" : "npp::free at or above the pool's level",
       where);
}

bool in_region(const PoolState& ps, const void* p) noexcept {
  const std::uintptr_t off = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(ps.base.load(std::memory_order_relaxed));
  return off < ps.frontier.load(std::memory_order_acquire);
}

// --- the fast paths -------------------------------------------------------------------------------
//
// Written so that everything off the common case is a tail call: the fast paths then need no
// stack frame and no saved registers.

// Every malloc the fast path does not take: first use by a thread or CPU, R8, large, aligned and
// guarded blocks.
// The fast path's own arguments come first, so its tail call leaves them in their registers.
__attribute__((noinline)) void* malloc_general(std::size_t size, std::source_location where, PoolState& ps,
                                               std::size_t alignment, Quota* quota, bool crash_on_oom) {
  CpuRecord* cpu = &smplock::detail::this_cpu();
  const std::uint8_t lvl = cpu->level.load(std::memory_order_relaxed);
  if (lvl >= level_of(ps)) [[unlikely]] {
#ifdef SMPLOCK_NPP_PRELOAD
    if (&ps == &g_default.state) return nested_malloc(size, alignment);  // a program's signal handler
#endif
    r8(ps, cpu, "npp::malloc at or above the pool's level", where);
  }
  return malloc_slow(ps, *cpu, lvl, size, alignment, quota, crash_on_oom, where);
}

// The list was empty: refill, finish the allocation, come back down. Level raised on entry.
// `how`: the class (bits 0-7), the CPU's level before the call (8-15), the Oom (16-17): packed so
// that the fast path's tail call passes everything in registers.
__attribute__((noinline)) void* malloc_refill(PoolState& ps, CpuRecord& cpu, CpuCache& pc, unsigned how,
                                              std::source_location where) {
  const unsigned cls = how & 0xFF;
  const auto lvl = static_cast<std::uint8_t>(how >> 8);
  const auto oom = static_cast<Oom>(how >> 16);
  Block* b = refill(ps, cpu, pc, cls, lvl, where);
  if (b != nullptr) {
    b->key = 0;
    bump(pc.list[cls].allocs);
  }
  lower_to(cpu, lvl);
  if (b != nullptr) return b;
  if (oom == Oom::Errno) errno = ENOMEM;
  return out_of_memory(ps, &cpu, oom == Oom::Crash, where);
}

__attribute__((noinline)) void* deliver_then_return(CpuRecord& cpu, void* b) {
  smplock::detail::deliver_pending(cpu);
  return b;
}
__attribute__((noinline)) void deliver(CpuRecord& cpu) { smplock::detail::deliver_pending(cpu); }

// The list passed its limit after a free: drain it and come back down. Level raised on entry.
__attribute__((noinline)) void free_drain(PoolState& ps, CpuRecord& cpu, CpuCache& pc, unsigned cls, std::uint8_t lvl,
                                          std::source_location where) {
  drain(ps, cpu, pc, cls, lvl, where);
  lower_to(cpu, lvl);
}

// The default pool's npp::malloc(size) off the fast path: two arguments, both still in the
// registers the fast path got them in.
__attribute__((noinline)) void* malloc_general_np(std::size_t size, std::source_location where) {
  return malloc_general(size, where, g_default.state, kAlignment, nullptr, true);
}

// The preload library's malloc(size) off the fast path.
__attribute__((noinline)) void* malloc_general_c(std::size_t size) {
  void* p = malloc_general(size, {}, g_default.state, kAlignment, nullptr, false);
  if (p == nullptr) errno = ENOMEM;
  return p;
}

// The fast paths' way off, kept to the fewest arguments the call allows: then nothing but the
// call's own arguments has to stay live in registers for it.
template <bool kDefault>
[[gnu::always_inline]] inline void* to_malloc_general(PoolState& ps, std::size_t size, std::size_t alignment,
                                                      Quota* quota, Oom oom, std::source_location where) {
  if (kDefault && alignment == kAlignment && quota == nullptr) {
    if (oom == Oom::Crash) return malloc_general_np(size, where);
    if (oom == Oom::Errno) return malloc_general_c(size);
  }
  void* p = malloc_general(size, where, ps, alignment, quota, oom == Oom::Crash);
  if (oom == Oom::Errno && p == nullptr) errno = ENOMEM;
  return p;
}

// The calling CPU and its cache, or false (go to the general path). kDefault: ps is the default
// pool, whose cache is one thread-local pointer checked with one compare (see CacheHead).
template <bool kDefault>
[[gnu::always_inline]] inline bool fast_cache(PoolState& ps, CpuRecord*& cpu, CpuCache*& pc) {
  cpu = tls_cpu;
  if constexpr (kDefault) {
    CacheHead* head = t_np_cache;
    if (head->cpu != cpu) [[unlikely]]
      return false;
    pc = static_cast<CpuCache*>(head);
    return true;
  } else {
    if (cpu == nullptr) [[unlikely]]
      return false;
    pc = ps.cpus[cpu->index].load(std::memory_order_relaxed);
    return pc != nullptr;
  }
}

// `pool_level` is ps.level, passed as a constant by the default pool's entry points.
template <bool kDefault>
[[gnu::always_inline]] inline void* malloc_fast(PoolState& ps, std::uint8_t pool_level, std::size_t size,
                                                std::size_t alignment, Quota* quota, Oom oom,
                                                std::source_location where) {
  CpuRecord* cpu;
  CpuCache* pc;
  if (!fast_cache<kDefault>(ps, cpu, pc)) [[unlikely]]
    return to_malloc_general<kDefault>(ps, size, alignment, quota, oom, where);
  const std::uint8_t lvl = cpu->level.load(std::memory_order_relaxed);
  // R8 (lvl >= the pool's level) goes to the general path, which crashes.
  if (lvl >= pool_level || alignment > kAlignment) [[unlikely]]
    return to_malloc_general<kDefault>(ps, size, alignment, quota, oom, where);
  // 1..1600 bytes: the class is the size in 16-byte steps, no table. The bound is 0 while debug is
  // on, so that one compare also sends every request to the general path, which adds the guards.
  // `at` is the class times 16 (the rounded size, for these), and a LocalList is 32 bytes: the
  // list is `2 * at` bytes into the array, one scaled address (indexing by at / 16 would shift
  // right, then left again).
  std::size_t at;
  if (size - 1 < g_fine_fast.load(std::memory_order_relaxed)) [[likely]]
    at = (size + 15) & ~std::size_t{15};
  else if (size <= kSmallMax && !g_debug.load(std::memory_order_relaxed))
    at = std::size_t{local_class_of(size)} * 16;
  else
    return to_malloc_general<kDefault>(ps, size, alignment, quota, oom, where);
  static_assert(sizeof(LocalList) == 2 * 16);
  raise_to(*cpu, pool_level);
  LocalList& list = *reinterpret_cast<LocalList*>(reinterpret_cast<char*>(pc->list) + 2 * at);
  const auto cls = static_cast<unsigned>(at / 16);
  Block* b = list.head;
  if (b == nullptr) [[unlikely]]
    return malloc_refill(ps, *cpu, *pc, cls | unsigned{lvl} << 8 | static_cast<unsigned>(oom) << 16, where);
  Block* next = b->next;
  list.head = next;
  // The next malloc of this class reads next->next: start bringing it in now (a long list of
  // blocks freed long ago is otherwise one cache miss per call).
  __builtin_prefetch(next, 1);
  ++list.room;
  b->key = 0;
  count_one(list.allocs);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  cpu->level.store(lvl, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (cpu->pending.load(std::memory_order_relaxed) != 0) [[unlikely]]
    return deliver_then_return(*cpu, b);
  return b;
}

void* pool_malloc(PoolState& ps, std::size_t size, std::size_t alignment, Quota* quota, bool crash_on_oom,
                  std::source_location where) {
  const Oom oom = crash_on_oom ? Oom::Crash : Oom::Null;
  if (&ps == &g_default.state) return malloc_fast<true>(ps, to_int(Level::NP), size, alignment, quota, oom, where);
  return malloc_fast<false>(ps, level_of(ps), size, alignment, quota, oom, where);
}

// Every free the fast path does not take: attach-less threads, other pools and huge blocks, large
// blocks, blocks of multi-page slabs, remote frees, guarded blocks, first use by a CPU, R8.
// The fast path's own arguments come first, so its tail call leaves them in their registers.
__attribute__((noinline)) void free_general(void* p, std::source_location where, PoolState& ps, Quota* quota) {
  CpuRecord* cpu = tls_cpu;
  const std::uint8_t lvl = cpu != nullptr ? cpu->level.load(std::memory_order_relaxed) : 0;
  // R8 before anything else, free(nullptr) included: a call that is wrong at this level is a crash
  // whether or not it had work to do.
  if (lvl >= level_of(ps)) [[unlikely]] {
#ifdef SMPLOCK_NPP_PRELOAD
    if (&ps == &g_default.state) return nested_free(ps, cpu, p, where);  // a program's signal handler
#endif
    r8(ps, cpu, "npp::free at or above the pool's level", where);
  }
  if (p == nullptr) return;
  const std::uintptr_t off = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(ps.base.load(std::memory_order_relaxed));
  if (off >= ps.frontier.load(std::memory_order_acquire)) [[unlikely]]
    return free_elsewhere(ps, cpu, p, quota, where);
  const Span* s = ps.spans + (off >> kPageShift);
  s -= s->head;
  if (s->kind != SpanKind::Small) [[unlikely]]
    return large_free(ps, cpu, p, s, where);
  const unsigned cls = s->cls;
  const std::size_t size = kT.size[cls];
  const std::uintptr_t in = off - (static_cast<std::uintptr_t>(s - ps.spans) << kPageShift);
  const std::uintptr_t start = ((in * kT.recip[cls]) >> kRecipShift) * size;
  Block* b = reinterpret_cast<Block*>(static_cast<char*>(p) - (in - start));
  if (in != start) [[unlikely]]
    b = odd_free(ps, cpu, p, b, cls, quota, where);
  if (b->key == key_of(ps, b)) [[unlikely]]
    crash(ps, Rule::Fatal, "npp: double free (the block is already free)", cpu, where);
  if (start + size > (std::uintptr_t{s->pages} << kPageShift)) [[unlikely]]
    crash(ps, Rule::Fatal, "npp: free of a pointer past a slab's last block (foreign pointer)", cpu, where);
  if (cpu == nullptr) [[unlikely]] {
#ifdef SMPLOCK_NPP_PRELOAD
    if (!attach_to_free(ps)) return stray_free(ps, s, b);
    cpu = &smplock::detail::this_cpu();  // at its lowest level, as `lvl` above says
#else
    return stray_free(ps, s, b);
#endif
  }
  CpuCache* pc = ps.cpus[cpu->index].load(std::memory_order_relaxed);
  if (pc == nullptr) [[unlikely]] {
    if ((pc = claim(ps, *cpu, where)) == nullptr) return stray_free(ps, s, b);
  }
  raise_to(*cpu, level_of(ps));
  if (g_debug.load(std::memory_order_relaxed)) [[unlikely]]
    poison(b, size);
  b->key = key_of(ps, b);
  LocalList& list = pc->list[cls];
  bump(list.frees);
  if (s->owner == cpu->index) [[likely]] {
    b->next = list.head;
    list.head = b;
    if (--list.room < 0) [[unlikely]]
      drain(ps, *cpu, *pc, cls, lvl, where);
  } else {
    bump(pc->remote_frees);
    Outgoing& o = pc->out[cls];
    if (o.owner != s->owner) [[unlikely]] {
      flush_outgoing(ps, *cpu, *pc, cls, lvl, where);
      o.owner = s->owner;
    }
    b->next = o.head;
    if (o.head == nullptr) o.tail = b;
    o.head = b;
    if (++o.count >= kOutBatch) [[unlikely]]
      flush_outgoing(ps, *cpu, *pc, cls, lvl, where);
  }
  lower_to(*cpu, lvl);
}


// The default pool's npp::free(p) off the fast path (see malloc_general_np).
__attribute__((noinline)) void free_general_np(void* p, std::source_location where) {
  free_general(p, where, g_default.state, nullptr);
}
template <bool kDefault>
[[gnu::always_inline]] inline void to_free_general(PoolState& ps, void* p, Quota* quota, std::source_location where) {
  if (kDefault && quota == nullptr) return free_general_np(p, where);
  free_general(p, where, ps, quota);
}

// The common free: an attached CPU below the pool's level frees the start of a block in the first
// page of a slab it owns. What it reads: the pool's line (base, frontier, spans, secret), the
// CPU's level, its cache's head, the page's descriptor (one line: owner and block geometry), the
// block's key word, the class's list line, and the CPU's pending word.
// Debug mode is not checked here: blocks allocated with guards never pass the start-of-block test
// below, and unguarded blocks freed while debug is on are merely not poisoned.
template <bool kDefault>
[[gnu::always_inline]] inline void free_fast(PoolState& ps, std::uint8_t pool_level, void* p, Quota* quota,
                                             std::source_location where) {
  CpuRecord* cpu;
  CpuCache* pc;
  const std::uintptr_t off = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(ps.base.load(std::memory_order_relaxed));
  // Past the frontier: not this pool's (also p == nullptr, which lies below base).
  if (off >= ps.frontier.load(std::memory_order_acquire) || !fast_cache<kDefault>(ps, cpu, pc)) [[unlikely]]
    return to_free_general<kDefault>(ps, p, quota, where);
  const std::uint8_t lvl = cpu->level.load(std::memory_order_relaxed);
  const Span* s = ps.spans + (off >> kPageShift);
  // One word says: first page of its span (head 0), a small slab, carved by this CPU. Anything
  // else (a large block, a later page of a multi-page slab, a remote free, a freed span) and R8
  // go to the general path, which handles or crashes.
  if (span_word(*s) != pc->span_tag || lvl >= pool_level || quota != nullptr) [[unlikely]]
    return to_free_general<kDefault>(ps, p, quota, where);
  // The start of a whole block? (sizes.hpp: the exact-division test; also false past the slab's
  // last whole block.) An interior pointer, a guarded block's user pointer or a pointer into the
  // slab's tail goes to the general path, which handles or crashes.
  const auto in = static_cast<std::uint32_t>(off & (kPageSize - 1));
  Block* b = static_cast<Block*>(p);
  const std::uintptr_t key = key_of(ps, b);
  if (std::rotr(static_cast<std::uint32_t>(in * s->inverse), s->shift) >= s->blocks || b->key == key) [[unlikely]]
    return to_free_general<kDefault>(ps, p, quota, where);  // ... and a double free (the key): it crashes
  const unsigned cls = s->cls;
  raise_to(*cpu, pool_level);
  LocalList& list = pc->list[cls];
  b->key = key;
  b->next = list.head;
  list.head = b;
  count_one(list.frees);
  if (--list.room < 0) [[unlikely]]
    return free_drain(ps, *cpu, *pc, cls, lvl, where);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  cpu->level.store(lvl, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (cpu->pending.load(std::memory_order_relaxed) != 0) [[unlikely]]
    return deliver(*cpu);
}

void* c_malloc(std::size_t size) {
  return malloc_fast<true>(g_default.state, to_int(Level::NP), size, kAlignment, nullptr, Oom::Errno, {});
}
void c_free(void* p) { free_fast<true>(g_default.state, to_int(Level::NP), p, nullptr, {}); }

void* c_calloc(std::size_t bytes) {
  if (bytes <= kSmallMax) {  // small blocks are reused as they were left: always zeroed
    void* p = c_malloc(bytes);
    if (p != nullptr) std::memset(p, 0, bytes);
    return p;
  }
  PoolState& ps = g_default.state;
  CpuRecord* cpu = &smplock::detail::this_cpu();
  if (cpu->level.load(std::memory_order_relaxed) >= level_of(ps)) [[unlikely]] {
#ifdef SMPLOCK_NPP_PRELOAD
    void* p = nested_malloc(bytes, kAlignment);  // a program's signal handler: a fresh mapping, zero
    if (p == nullptr) errno = ENOMEM;
    return p;
#else
    r8(ps, cpu, "npp::malloc at or above the pool's level", {});
#endif
  }
  std::size_t dirty = 0;
  void* p = large_alloc(ps, *cpu, bytes, kAlignment, {}, &dirty);
  if (p == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  std::memset(p, 0, dirty < bytes ? dirty : bytes);  // reused pages only: fresh ones read zero
  return p;
}

void* c_realloc(void* old, std::size_t size) {
  if (old == nullptr) return c_malloc(size);
  if (size == 0) {
    c_free(old);
    return nullptr;
  }
  PoolState& ps = g_default.state;
  // R8 first: at or above NP (a program's signal handler, in the preload) the ordinary path
  // below decides; the huge table is only looked at below the pool's level.
  if (size > (std::size_t{kLargeMaxPages} << kPageShift) && !in_region(ps, old)) {
    CpuRecord* cpu = tls_cpu;
    if (cpu == nullptr) cpu = &smplock::detail::this_cpu();
    if (cpu->level.load(std::memory_order_relaxed) < level_of(ps))
      if (void* p = huge_resize(ps, old, size, {})) return p;
  }
  const std::size_t have = pool_usable_size(ps, old);
  // Keep the block when it fits and would not waste more than half of it.
  if (size <= have && size >= have / 2) return old;
  void* p = c_malloc(size);
  if (p == nullptr) return nullptr;  // the old block stays valid, as C requires
  std::memcpy(p, old, size < have ? size : have);
  c_free(old);
  return p;
}

void pool_free(PoolState& ps, void* p, Quota* quota, std::source_location where) {
  if (&ps == &g_default.state) return free_fast<true>(ps, to_int(Level::NP), p, quota, where);
  free_fast<false>(ps, level_of(ps), p, quota, where);
}

std::size_t pool_usable_size(PoolState& ps, const void* p) {
  CpuRecord* cpu = tls_cpu;
  const std::uintptr_t off = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(ps.base.load(std::memory_order_relaxed));
  if (off < ps.frontier.load(std::memory_order_acquire)) {
    const Span* s = ps.spans + (off >> kPageShift);
    s -= s->head;
    if (s->kind == SpanKind::Large && s->block == p) return s->size;
    if (s->kind == SpanKind::Small) {
      const unsigned cls = s->cls;
      const std::size_t size = kT.size[cls];
      const std::uintptr_t in = off - (static_cast<std::uintptr_t>(s - ps.spans) << kPageShift);
      const std::uintptr_t start = ((in * kT.recip[cls]) >> kRecipShift) * size;
      if (in == start) return size;
      const auto* h = reinterpret_cast<const std::uint64_t*>(static_cast<const char*>(p) - (in - start));
      if (in - start == kGuardHead && h[0] == (kGuardMagic ^ reinterpret_cast<std::uintptr_t>(h))) return h[1];
    }
    crash(ps, Rule::Fatal, "npp: usable_size of a pointer the pool did not hand out", cpu, {});
  }
  for (auto& slot : g_pools) {
    PoolState* other = slot.load(std::memory_order_acquire);
    if (other != nullptr && other != &ps && in_region(*other, p)) return pool_usable_size(*other, p);
  }
  if (const NestedHead* h = nested_find(p, false)) return h->size;
  if (cpu == nullptr) cpu = &smplock::detail::this_cpu();
  const std::uint8_t lvl = cpu->level.load(std::memory_order_relaxed);
  for (auto& slot : g_pools) {
    PoolState* other = slot.load(std::memory_order_acquire);
    if (other == nullptr || lvl >= level_of(*other)) continue;
    if (HugeRecord* rec = find_huge(*other, p, false, {})) return rec->size;
  }
  crash(ps, Rule::Fatal, "npp: usable_size of a pointer the pool did not hand out", cpu, {});
}

PoolState* pool_of(const void* p) {
  for (auto& slot : g_pools) {
    PoolState* ps = slot.load(std::memory_order_acquire);
    if (ps != nullptr && in_region(*ps, p)) return ps;
  }
  return nullptr;
}

Stats pool_stats(PoolState& ps) {
  Stats st;
  std::uint64_t slow = 0, locks = 0;
  const int top = ps.max_cpu.load(std::memory_order_relaxed);
  for (unsigned c = 1; c < kSizeClasses; ++c) st.classes[c].size = kT.size[c];
  for (int i = 0; i <= top; ++i) {
    const CpuCache* pc = ps.all[i].load(std::memory_order_acquire);
    if (pc == nullptr) continue;
    for (unsigned c = 1; c < kSizeClasses; ++c) {
      st.classes[c].allocs += pc->list[c].allocs.load(std::memory_order_relaxed);
      st.classes[c].frees += pc->list[c].frees.load(std::memory_order_relaxed);
    }
    slow += pc->slow.load(std::memory_order_relaxed);
    locks += pc->locks.load(std::memory_order_relaxed);
    st.remote_frees += pc->remote_frees.load(std::memory_order_relaxed);
    st.remote_batches += pc->remote_batches.load(std::memory_order_relaxed);
  }
  for (unsigned c = 1; c < kSizeClasses; ++c) {
    st.mallocs += st.classes[c].allocs;
    st.frees += st.classes[c].frees;
  }
  const std::uint64_t stray = ps.stray_frees.load(std::memory_order_relaxed);
  st.large_allocs = ps.large_allocs.load(std::memory_order_relaxed);
  st.huge_allocs = ps.huge_allocs.load(std::memory_order_relaxed);
  const std::uint64_t big_calls = st.large_allocs + st.huge_allocs + ps.large_frees.load(std::memory_order_relaxed) +
                                  ps.huge_frees.load(std::memory_order_relaxed);
  st.mallocs += st.large_allocs + st.huge_allocs;
  st.frees += ps.large_frees.load(std::memory_order_relaxed) + ps.huge_frees.load(std::memory_order_relaxed) + stray;
  st.slow_calls = slow + big_calls + stray;
  st.fast_hits = st.calls() > st.slow_calls ? st.calls() - st.slow_calls : 0;
  st.lock_acquisitions = locks + ps.big_locks.load(std::memory_order_relaxed);
  st.bytes_in_use = bytes_in_use(ps);
  smplock::detail::atomic_max(ps.peak, st.bytes_in_use);
  st.peak_bytes = ps.peak.load(std::memory_order_relaxed);
  st.bytes_mapped = ps.mapped.load(std::memory_order_relaxed);
  return st;
}

bool set_debug_flag(bool on) noexcept {
  g_fine_fast.store(on ? 0 : kFineMax, std::memory_order_relaxed);
  return g_debug.exchange(on, std::memory_order_relaxed);
}
bool debug_flag() noexcept { return g_debug.load(std::memory_order_relaxed); }

void pool_destroy(PoolState& ps) {
  for (auto& slot : g_pools) {
    PoolState* expected = &ps;
    slot.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  }
  const std::size_t cache_len = (sizeof(CpuCache) + kOsPage - 1) & ~(kOsPage - 1);
  ps.all.for_each([&](std::atomic<CpuCache*>& slot) {
    if (CpuCache* pc = slot.exchange(nullptr, std::memory_order_acquire)) {
      pc->~CpuCache();
      munmap(pc, cache_len);
    }
  });
  ps.cpus.unmap_all();
  ps.all.unmap_all();
  unmap_huge_all(ps);
  if (ps.map_raw != nullptr) munmap(ps.map_raw, ps.map_len);
  if (ps.spans != nullptr) munmap(ps.spans, ps.span_bytes);
}

// --- fork (the preload library) ---------------------------------------------------------------------

namespace {
Level g_fork_previous = Level::Null;
}
void prepare_fork() { g_fork_previous = g_default.state.lock.acquire(); }
void after_fork() { g_default.state.lock.release(g_fork_previous); }

// The child has one thread: every other CPU index's cache belonged to a thread that is not there,
// and that thread may have been anywhere in a fast path when fork() copied it (a list half
// pushed, a slab half carved: carving it again would hand blocks out twice). So the child keeps
// none of those caches' blocks (they stay unused: a bounded leak, at most a cache's limits per
// thread) and marks each cache vacant, as after a thread's end: remote frees to its slabs go to
// the orphans, and a child thread that gets the index starts it empty. Plain stores: the child
// has one thread. (Depot and page heap: the preload holds the default pool's lock across fork().)
void drop_foreign_caches(PoolState& ps) {
  CpuRecord* me = tls_cpu;
  const int top = ps.max_cpu.load(std::memory_order_relaxed);
  for (int i = 0; i <= top; ++i) {
    if (me != nullptr && i == me->index) continue;
    CpuCache* pc = ps.all[i].load(std::memory_order_relaxed);
    if (pc == nullptr) continue;
    for (unsigned cls = 1; cls < kSizeClasses; ++cls) {
      pc->list[cls].head = nullptr;
      pc->list[cls].room = kT.limit[cls];
      pc->out[cls] = Outgoing{};
      pc->carve[cls] = Carve{};
      pc->spill[cls] = nullptr;
    }
    pc->vacant.store(true, std::memory_order_relaxed);
    ps.cpus[i].store(nullptr, std::memory_order_relaxed);
  }
}

void drop_all_foreign_caches() {
  for (auto& slot : g_pools)
    if (PoolState* ps = slot.load(std::memory_order_relaxed)) drop_foreign_caches(*ps);
}

void after_fork_child() {
  drop_all_foreign_caches();
  after_fork();
}

#ifndef SMPLOCK_NPP_PRELOAD
// A program linking the library: the child drops the other threads' caches too (the preload
// library registers its own handlers, which also hold the pool's lock across fork()).
__attribute__((constructor)) void register_fork_child() { platform::on_fork_child(drop_all_foreign_caches); }
#endif

}  // namespace smplock::npp::detail

// The default pool's entry points live here, beside the fast paths they inline.
namespace smplock::npp {

void* malloc(std::size_t size, std::source_location where) {
  return detail::malloc_fast<true>(detail::g_default.state, to_int(Level::NP), size, kAlignment, nullptr, detail::Oom::Crash,
                                   where);
}

void free(void* p, std::source_location where) {
  detail::free_fast<true>(detail::g_default.state, to_int(Level::NP), p, nullptr, where);
}

}  // namespace smplock::npp
