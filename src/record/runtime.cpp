// The record runtime: thread records, the lock->instance table, classes, edges, the held stack,
// and what fork and thread exit do to them. See runtime.hpp for the hot path's shape.
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <new>

#include "enforce.hpp"
#include "signals.hpp"
#include "heap.hpp"
#include "state.hpp"

namespace smplock::record {

SpinLock g_lock;
std::atomic<std::uint32_t> g_nclasses{0};
std::atomic<Class*>* g_classes = nullptr;
std::atomic<std::uint32_t> g_nedges{0};
std::atomic<Edge*>* g_edges = nullptr;
std::atomic<Thread*> g_threads{nullptr};
std::atomic<std::uint64_t> g_threads_seen{0};
std::uint64_t g_started_unix_ns = 0, g_started_mono_ns = 0;

namespace {

// The calling thread's record. Besides real records it holds kDead (the thread ran its exit
// destructor: pass through) or kInside (the runtime is working on this thread: pass through), so the
// hot path tests one TLS word.
__thread Thread* t_self __attribute__((tls_model("initial-exec"))) = nullptr;
Thread* const kDead = reinterpret_cast<Thread*>(1);
Thread* const kInside = reinterpret_cast<Thread*>(2);

std::atomic<bool> g_started{false};
pthread_key_t g_key;

// --- memory ----------------------------------------------------------------------------------
char* g_arena_next = nullptr;
char* g_arena_end = nullptr;

}  // namespace

void* pages(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void* arena_alloc(std::size_t bytes) {
  bytes = (bytes + 63) & ~std::size_t{63};
  if (g_arena_next == nullptr || static_cast<std::size_t>(g_arena_end - g_arena_next) < bytes) {
    const std::size_t chunk = bytes > (1u << 20) ? bytes : (1u << 20);
    g_arena_next = static_cast<char*>(pages(chunk));
    if (g_arena_next == nullptr) return nullptr;
    g_arena_end = g_arena_next + chunk;
  }
  void* p = g_arena_next;
  g_arena_next += bytes;
  return p;
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Mutex: return "mutex";
    case Kind::Recursive: return "recursive";
    case Kind::Rwlock: return "rwlock";
    case Kind::Spin: return "spin";
    case Kind::Mtx: return "mtx";
  }
  return "mutex";
}

const char* how_name(How h) {
  switch (h) {
    case How::Symbol: return "symbol";
    case How::Init: return "init";
    case How::FirstUse: return "first-use";
    case How::Alloc: return "alloc";
  }
  return "first-use";
}

std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

Inside::Inside() : saved_(t_self) { t_self = kInside; }
Inside::~Inside() { t_self = static_cast<Thread*>(saved_); }
bool inside_runtime() { return t_self == kInside; }

namespace {

// --- threads -----------------------------------------------------------------------------------

// Empties a record for a new thread life (or for the forked child's only thread). Its tables and
// chunks stay allocated; counts go to zero and every EdgeLocal re-registers on its next occurrence.
void reset_counts(Thread* t) {
  for (std::uint32_t c = 0; c < kChunkDir; ++c) {
    ClassLocal* chunk = t->dir[c].load(std::memory_order_relaxed);
    if (chunk == nullptr) continue;
    for (std::uint32_t i = 0; i < kChunkClasses; ++i) {
      ClassLocal& l = chunk[i];
      l.acquisitions.store(0, std::memory_order_relaxed);
      l.contended.store(0, std::memory_order_relaxed);
      l.wait_ns.store(0, std::memory_order_relaxed);
      l.max_wait_ns.store(0, std::memory_order_relaxed);
      l.hold_ns.store(0, std::memory_order_relaxed);
      l.hold_samples.store(0, std::memory_order_relaxed);
      l.stamp = 0;
    }
  }
  if (EdgeTable* et = t->edges.load(std::memory_order_relaxed)) {
    for (std::size_t i = 0; i <= et->mask; ++i) {
      EdgeLocal* e = et->slot[i].load(std::memory_order_relaxed);
      if (e == nullptr) continue;
      e->count.store(0, std::memory_order_relaxed);
      e->blocking.store(0, std::memory_order_relaxed);
      e->read_read.store(0, std::memory_order_relaxed);
      e->address_order.store(0, std::memory_order_relaxed);
      e->nguards.store(0, std::memory_order_relaxed);
    }
  }
  t->serial = 0;
  t->sample = 0;
}

// Adds a dying thread's counts to the class and edge totals. g_lock held.
void merge_thread(Thread* t) {
  const std::uint64_t life = t->life.load(std::memory_order_relaxed);
  const std::uint32_t nclasses = g_nclasses.load(std::memory_order_acquire);
  for (std::uint32_t id = 0; id < nclasses; ++id) {
    ClassLocal* chunk = t->dir[id / kChunkClasses].load(std::memory_order_relaxed);
    if (chunk == nullptr) {
      id += kChunkClasses - 1 - id % kChunkClasses;
      continue;
    }
    Class* c = g_classes[id].load(std::memory_order_acquire);
    if (c == nullptr) continue;
    ClassLocal& l = chunk[id % kChunkClasses];
    c->acquisitions.fetch_add(l.acquisitions.load(std::memory_order_relaxed), std::memory_order_relaxed);
    c->contended.fetch_add(l.contended.load(std::memory_order_relaxed), std::memory_order_relaxed);
    c->wait_ns.fetch_add(l.wait_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    c->hold_ns.fetch_add(l.hold_ns.load(std::memory_order_relaxed), std::memory_order_relaxed);
    c->hold_samples.fetch_add(l.hold_samples.load(std::memory_order_relaxed), std::memory_order_relaxed);
    const std::uint64_t mw = l.max_wait_ns.load(std::memory_order_relaxed);
    if (mw > c->max_wait_ns.load(std::memory_order_relaxed)) c->max_wait_ns.store(mw, std::memory_order_relaxed);
  }
  EdgeTable* et = t->edges.load(std::memory_order_relaxed);
  if (et == nullptr) return;
  for (std::size_t i = 0; i <= et->mask; ++i) {
    EdgeLocal* e = et->slot[i].load(std::memory_order_relaxed);
    if (e == nullptr || e->life.load(std::memory_order_relaxed) != life) continue;
    Edge* g = e->edge;
    g->count.fetch_add(e->count.load(std::memory_order_relaxed), std::memory_order_relaxed);
    g->blocking.fetch_add(e->blocking.load(std::memory_order_relaxed), std::memory_order_relaxed);
    g->read_read.fetch_add(e->read_read.load(std::memory_order_relaxed), std::memory_order_relaxed);
    g->address_order.fetch_add(e->address_order.load(std::memory_order_relaxed), std::memory_order_relaxed);
    // The edge's guards: those held at every occurrence on every thread.
    std::uint32_t kept = 0;
    const std::uint32_t ln = e->nguards.load(std::memory_order_relaxed);
    for (std::uint32_t k = 0; k < g->nguards; ++k) {
      bool in_local = false;
      for (std::uint32_t j = 0; j < ln; ++j)
        if (e->guards[j].load(std::memory_order_relaxed) == g->guards[k]) in_local = true;
      if (in_local) g->guards[kept++] = g->guards[k];
    }
    g->nguards = kept;
  }
}

constexpr std::size_t kFirstHeld = 16;
std::uint32_t g_free_records = 0;  // records whose thread has exited (g_lock held)

void thread_exit(void* arg) {
  Thread* t = static_cast<Thread*>(arg);
  t_self = kInside;
  {
    SpinGuard g(g_lock);
    merge_thread(t);
    t->nheld = 0;
    t->live.store(false, std::memory_order_release);
    ++g_free_records;
  }
  // Locks this thread takes in later destructors are not recorded (its record may be reused).
  t_self = kDead;
}

Thread* make_thread() {
  t_self = kInside;
  Thread* t = nullptr;
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  {
    SpinGuard g(g_lock);
    for (Thread* r = g_free_records == 0 ? nullptr : g_threads.load(std::memory_order_relaxed); r != nullptr; r = r->next) {
      if (!r->live.load(std::memory_order_relaxed)) {
        t = r;
        --g_free_records;
        break;
      }
    }
    if (t == nullptr) {
      // One arena block: the record, its first edge table, a first held stack of 16 and the start
      // of its chunk directory share the first page; then its first class chunk (no mmap per thread).
      constexpr std::size_t kT = (sizeof(Thread) + 63) & ~std::size_t{63};
      constexpr std::size_t kE = (sizeof(EdgeTable) + 64 * sizeof(std::atomic<EdgeLocal*>) + 63) & ~std::size_t{63};
      constexpr std::size_t kH = kFirstHeld * sizeof(Held);
      constexpr std::size_t kD = sizeof(std::atomic<ClassLocal*>) * kChunkDir;
      constexpr std::size_t kC = sizeof(ClassLocal) * kChunkClasses;
      char* block = static_cast<char*>(arena_alloc(kT + kE + kH + kD + kC));
      t = reinterpret_cast<Thread*>(block);
      if (t != nullptr) {
        new (t) Thread();
        auto* et = reinterpret_cast<EdgeTable*>(block + kT);
        et->mask = 63;
        et->used = 0;
        t->edges.store(et, std::memory_order_relaxed);
        t->held = reinterpret_cast<Held*>(block + kT + kE);
        t->cap_held = kFirstHeld;
        t->dir = reinterpret_cast<std::atomic<ClassLocal*>*>(block + kT + kE + kH);
        auto* chunk = reinterpret_cast<ClassLocal*>(block + kT + kE + kH + kD);
        chunk[0].pad = 0;  // a write first: a read would map the zero page and fault again on the write
        t->dir[0].store(chunk, std::memory_order_relaxed);
        t->next = g_threads.load(std::memory_order_relaxed);
        g_threads.store(t, std::memory_order_release);
      }
    } else {
      reset_counts(t);
    }
    if (t != nullptr) {
      t->life.store(t->life.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      t->tid = tid;
      t->nheld = 0;
      t->live.store(true, std::memory_order_release);
      g_threads_seen.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (t == nullptr) {
    t_self = kDead;
    return nullptr;
  }
  pthread_setspecific(g_key, t);
  t_self = t;
  return t;
}

// --- per-thread tables ---------------------------------------------------------------------------

ClassLocal& class_local(Thread* t, std::uint32_t cls) {
  std::atomic<ClassLocal*>& slot = t->dir[cls / kChunkClasses];
  ClassLocal* chunk = slot.load(std::memory_order_relaxed);
  if (__builtin_expect(chunk == nullptr, 0)) {
    chunk = static_cast<ClassLocal*>(pages(sizeof(ClassLocal) * kChunkClasses));
    slot.store(chunk, std::memory_order_release);
  }
  return chunk[cls % kChunkClasses];
}

// Makes room for one more held lock (cold): the stack grows without limit, a program may hold any
// number of locks. False when out of memory (that lock goes unrecorded).
__attribute__((noinline, cold)) bool grow_held(Thread* t) {
  Inside in;
  const std::size_t cap = t->cap_held <= kFirstHeld ? 256 : t->cap_held * 2;
  Held* n = static_cast<Held*>(pages(cap * sizeof(Held)));
  if (n == nullptr) return false;
  if (t->held != nullptr) {
    std::memcpy(n, t->held, t->nheld * sizeof(Held));
    if (t->cap_held != kFirstHeld) munmap(t->held, t->cap_held * sizeof(Held));  // the first is arena memory
  }
  t->held = n;
  t->cap_held = cap;
  return true;
}

// Written field by field in place: a Held built on the stack and copied whole was read back with
// wider loads than the stores that made it, and that store-forwarding stall was a fifth of an
// uncontended lock/unlock pair under the interposer.
inline void push_held(Thread* t, const void* lock, std::uint32_t cls, bool read, bool reentry, std::int32_t level,
                      std::uintptr_t pc, std::uint64_t t0) {
  if (__builtin_expect(t->nheld == t->cap_held, 0) && !grow_held(t)) return;
  Held& h = t->held[t->nheld++];
  h.lock = lock;
  h.cls = cls;
  h.read = read;
  h.reentry = reentry;
  h.level = static_cast<std::int16_t>(level);
  h.pc = pc;
  h.t0 = t0;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

EdgeLocal* find_local_edge(Thread* t, std::uint64_t key) {
  EdgeTable* et = t->edges.load(std::memory_order_relaxed);
  if (et == nullptr) return nullptr;
  for (std::size_t i = mix(key) & et->mask;; i = (i + 1) & et->mask) {
    EdgeLocal* e = et->slot[i].load(std::memory_order_relaxed);
    if (e == nullptr) return nullptr;
    if (e->key == key) return e;
  }
}

void insert_local_edge(Thread* t, EdgeLocal* e) {
  EdgeTable* et = t->edges.load(std::memory_order_relaxed);
  if (et == nullptr || (et->used + 1) * 2 > et->mask + 1) {
    // The old table is kept: the trace writer may be reading it.
    const std::size_t cap = et == nullptr ? 64 : (et->mask + 1) * 2;
    auto* n = static_cast<EdgeTable*>(pages(sizeof(EdgeTable) + cap * sizeof(std::atomic<EdgeLocal*>)));
    if (n == nullptr) return;
    n->mask = cap - 1;
    n->used = 0;
    if (et != nullptr) {
      for (std::size_t i = 0; i <= et->mask; ++i) {
        EdgeLocal* o = et->slot[i].load(std::memory_order_relaxed);
        if (o == nullptr) continue;
        std::size_t j = mix(o->key) & n->mask;
        while (n->slot[j].load(std::memory_order_relaxed) != nullptr) j = (j + 1) & n->mask;
        n->slot[j].store(o, std::memory_order_relaxed);
        ++n->used;
      }
    }
    t->edges.store(n, std::memory_order_release);
    et = n;
  }
  std::size_t j = mix(e->key) & et->mask;
  while (et->slot[j].load(std::memory_order_relaxed) != nullptr) j = (j + 1) & et->mask;
  et->slot[j].store(e, std::memory_order_release);
  ++et->used;
}

// --- global edges (g_lock held) ----------------------------------------------------------------

struct EdgeIndex {
  std::size_t mask = 0;
  Edge** slot = nullptr;
};
EdgeIndex g_edge_index;

Edge* find_edge(std::uint64_t key) {
  if (g_edge_index.slot == nullptr) return nullptr;
  for (std::size_t i = mix(key) & g_edge_index.mask;; i = (i + 1) & g_edge_index.mask) {
    Edge* e = g_edge_index.slot[i];
    if (e == nullptr) return nullptr;
    if ((std::uint64_t{e->from} << 32 | e->to) == key) return e;
  }
}

void index_edge(Edge* e) {
  const std::uint32_t n = g_nedges.load(std::memory_order_relaxed);
  if (g_edge_index.slot == nullptr || (n + 1) * 2 > g_edge_index.mask + 1) {
    const std::size_t cap = g_edge_index.slot == nullptr ? 256 : (g_edge_index.mask + 1) * 2;
    auto** s = static_cast<Edge**>(pages(cap * sizeof(Edge*)));
    for (std::size_t i = 0; g_edge_index.slot != nullptr && i <= g_edge_index.mask; ++i) {
      Edge* o = g_edge_index.slot[i];
      if (o == nullptr) continue;
      std::size_t j = mix(std::uint64_t{o->from} << 32 | o->to) & (cap - 1);
      while (s[j] != nullptr) j = (j + 1) & (cap - 1);
      s[j] = o;
    }
    if (g_edge_index.slot != nullptr) munmap(g_edge_index.slot, (g_edge_index.mask + 1) * sizeof(Edge*));
    g_edge_index.slot = s;
    g_edge_index.mask = cap - 1;
  }
  std::size_t j = mix(std::uint64_t{e->from} << 32 | e->to) & g_edge_index.mask;
  while (g_edge_index.slot[j] != nullptr) j = (j + 1) & g_edge_index.mask;
  g_edge_index.slot[j] = e;
}

// The classes this thread holds besides `from` and `to` (at most kMaxGuards; a guard left out only
// makes a cycle look less guarded than it is).
std::uint32_t current_guards(Thread* t, std::uint32_t from, std::uint32_t to, std::uint32_t* out) {
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < t->nheld && n < kMaxGuards; ++i) {
    const std::uint32_t c = t->held[i].cls;
    if (c == from || c == to) continue;
    bool dup = false;
    for (std::uint32_t k = 0; k < n; ++k) dup |= out[k] == c;
    if (!dup) out[n++] = c;
  }
  return n;
}

// First occurrence of an edge in this thread life (cold): register the thread on the global edge
// (making it, with the first occurrence's stacks, when it is new).
__attribute__((noinline, cold)) EdgeLocal* register_edge(Thread* t, EdgeLocal* e, std::uint64_t key,
                                                        std::uintptr_t from_pc) {
  Inside in;
  const auto from = static_cast<std::uint32_t>(key >> 32);
  const auto to = static_cast<std::uint32_t>(key);
  std::uint32_t guards[kMaxGuards];
  const std::uint32_t ng = current_guards(t, from, to, guards);
  Stack stack;
  bool captured = false;
  for (;;) {
    SpinGuard g(g_lock);
    Edge* edge = find_edge(key);
    if (edge == nullptr) {
      const std::uint32_t id = g_nedges.load(std::memory_order_relaxed);
      if (id >= kMaxEdges) return nullptr;
      if (!captured) {
        // Unwind outside g_lock (the unwinder may take locks of its own), then look again.
        g_lock.unlock();
        capture(stack);
        captured = true;
        g_lock.lock();
        continue;
      }
      edge = static_cast<Edge*>(arena_alloc(sizeof(Edge)));
      if (edge == nullptr) return nullptr;
      new (edge) Edge();
      edge->id = id;
      edge->from = from;
      edge->to = to;
      edge->from_pc = from_pc;
      edge->to_stack = stack;
      edge->guards_set = true;
      edge->nguards = ng;
      for (std::uint32_t k = 0; k < ng; ++k) edge->guards[k] = guards[k];
      index_edge(edge);
      g_edges[id].store(edge, std::memory_order_release);
      g_nedges.store(id + 1, std::memory_order_release);
    }
    if (edge->thread_count < kMaxTids) edge->tids[edge->thread_count] = t->tid;
    ++edge->thread_count;
    if (!edge->guards_set) {  // after a fork reset
      edge->guards_set = true;
      edge->nguards = ng;
      for (std::uint32_t k = 0; k < ng; ++k) edge->guards[k] = guards[k];
    }
    if (e == nullptr) {
      e = static_cast<EdgeLocal*>(arena_alloc(sizeof(EdgeLocal)));
      if (e == nullptr) return nullptr;
      new (e) EdgeLocal();
      e->key = key;
      e->edge = edge;
      insert_local_edge(t, e);
    }
    break;
  }
  for (std::uint32_t k = 0; k < ng; ++k) e->guards[k].store(guards[k], std::memory_order_relaxed);
  e->nguards.store(ng, std::memory_order_relaxed);
  e->life.store(t->life.load(std::memory_order_relaxed), std::memory_order_relaxed);
  return e;
}

// One occurrence of from -> to (from == to: same-class nesting) on this thread.
inline void note_edge(Thread* t, std::uint32_t from, std::uint32_t to, const Acquire& a, bool read_read,
                      bool address_order, std::uintptr_t from_pc) {
  const std::uint64_t key = std::uint64_t{from} << 32 | to;
  EdgeLocal* e = find_local_edge(t, key);
  if (__builtin_expect(e == nullptr || e->life.load(std::memory_order_relaxed) != t->life.load(std::memory_order_relaxed), 0)) {
    e = register_edge(t, e, key, from_pc);
    if (e == nullptr) return;
  } else if (std::uint32_t ng = e->nguards.load(std::memory_order_relaxed); ng != 0) {
    // Keep the guards still held now: stamp >= serial marks the classes held at this acquisition.
    std::uint32_t kept = 0;
    for (std::uint32_t k = 0; k < ng; ++k) {
      const std::uint32_t g = e->guards[k].load(std::memory_order_relaxed);
      if (class_local(t, g).stamp >= t->serial) e->guards[kept++].store(g, std::memory_order_relaxed);
    }
    if (kept != ng) e->nguards.store(kept, std::memory_order_relaxed);
  }
  bump(e->count);
  if (!a.trylock) bump(e->blocking);
  if (read_read) bump(e->read_read);
  if (address_order) bump(e->address_order);
}

void record_contended_site(Class* c, std::uintptr_t pc) {
  for (ContendedSite& s : c->sites) {
    std::uintptr_t cur = s.pc.load(std::memory_order_relaxed);
    if (cur == 0 && s.pc.compare_exchange_strong(cur, pc, std::memory_order_relaxed)) cur = pc;
    if (cur == pc) {
      s.count.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  // More sites than slots: the first ones seen keep their places (a rough top list).
}

// --- lock instances ----------------------------------------------------------------------------
// Open addressing, lock->value, readers without a lock. Inserts and deletes under g_lock. A deleted
// slot keeps a tombstone key until the next resize; a resized table is published and the old one
// kept (a reader may still be probing it; a miss there just takes the cold path, which looks again).

constexpr std::uintptr_t kTombstone = 1;
struct Slot {
  std::atomic<std::uintptr_t> key;
  std::atomic<std::uint32_t> cls;
};
struct InstanceTable {
  std::size_t mask;
  std::size_t used;  // live + tombstones
  Slot slot[1];
};
std::atomic<InstanceTable*> g_instances{nullptr};

inline std::size_t slot_of(std::uintptr_t addr, std::size_t mask) { return mix(addr) & mask; }

inline bool lookup(std::uintptr_t addr, std::uint32_t& cls) {
  InstanceTable* tab = g_instances.load(std::memory_order_acquire);
  for (std::size_t i = slot_of(addr, tab->mask);; i = (i + 1) & tab->mask) {
    const std::uintptr_t k = tab->slot[i].key.load(std::memory_order_acquire);
    if (k == addr) {
      cls = tab->slot[i].cls.load(std::memory_order_relaxed);
      return true;
    }
    if (k == 0) return false;
  }
}

InstanceTable* new_instance_table(std::size_t cap) {
  auto* t = static_cast<InstanceTable*>(pages(sizeof(InstanceTable) + cap * sizeof(Slot)));
  if (t != nullptr) t->mask = cap - 1;
  return t;
}

// g_lock held.
void insert_instance(std::uintptr_t addr, std::uint32_t cls) {
  InstanceTable* tab = g_instances.load(std::memory_order_relaxed);
  if ((tab->used + 1) * 2 > tab->mask + 1) {
    std::size_t live = 0;
    for (std::size_t i = 0; i <= tab->mask; ++i) live += tab->slot[i].key.load(std::memory_order_relaxed) > kTombstone;
    std::size_t cap = tab->mask + 1;
    while ((live + 1) * 4 > cap) cap *= 2;
    InstanceTable* n = new_instance_table(cap);
    if (n == nullptr) return;
    for (std::size_t i = 0; i <= tab->mask; ++i) {
      const std::uintptr_t k = tab->slot[i].key.load(std::memory_order_relaxed);
      if (k <= kTombstone) continue;
      std::size_t j = slot_of(k, n->mask);
      while (n->slot[j].key.load(std::memory_order_relaxed) != 0) j = (j + 1) & n->mask;
      n->slot[j].cls.store(tab->slot[i].cls.load(std::memory_order_relaxed), std::memory_order_relaxed);
      n->slot[j].key.store(k, std::memory_order_relaxed);
      ++n->used;
    }
    g_instances.store(n, std::memory_order_release);
    tab = n;
  }
  std::size_t j = slot_of(addr, tab->mask);
  while (tab->slot[j].key.load(std::memory_order_relaxed) != 0) j = (j + 1) & tab->mask;
  tab->slot[j].cls.store(cls, std::memory_order_relaxed);
  tab->slot[j].key.store(addr, std::memory_order_release);
  ++tab->used;
}

// g_lock held.
void erase_instance(std::uintptr_t addr) {
  InstanceTable* tab = g_instances.load(std::memory_order_relaxed);
  for (std::size_t i = slot_of(addr, tab->mask);; i = (i + 1) & tab->mask) {
    const std::uintptr_t k = tab->slot[i].key.load(std::memory_order_relaxed);
    if (k == 0) return;
    if (k == addr) {
      tab->slot[i].key.store(kTombstone, std::memory_order_release);
      return;
    }
  }
}

// --- classes (g_lock held) ----------------------------------------------------------------------

struct ClassIndex {
  std::size_t mask = 0;
  Class** slot = nullptr;
};
ClassIndex g_class_index;

// `addr`: a Symbol class's lock address, an Alloc class's offset in its block (part of its identity).
std::uint64_t class_key(How how, std::uintptr_t addr, std::uint64_t hash) {
  if (how == How::Alloc) hash += mix(addr + 1);
  return how == How::Symbol ? mix(addr) ^ 0x5bd1e995 : mix(hash + static_cast<std::uint64_t>(how));
}

bool same_class(const Class* c, How how, std::uintptr_t addr, std::uint64_t hash, const Stack& site) {
  if (c->how != how) return false;
  if (how == How::Symbol) return c->addr == addr;
  if (how == How::Alloc && c->addr != addr) return false;
  if (c->hash != hash || c->site.n != site.n) return false;
  return std::memcmp(c->site.pc, site.pc, site.n * sizeof(std::uintptr_t)) == 0;
}

std::uint32_t find_or_make_class(How how, Kind kind, std::uintptr_t addr, const Stack& site, const TableLevel& lv) {
  std::uint64_t hash = 0;
  if (how != How::Symbol) {
    hash = 1469598103934665603ULL;
    for (std::uint32_t i = 0; i < site.n; ++i) hash = (hash ^ site.pc[i]) * 1099511628211ULL;
  }
  const std::uint64_t key = class_key(how, addr, hash);
  if (g_class_index.slot != nullptr) {
    for (std::size_t i = key & g_class_index.mask;; i = (i + 1) & g_class_index.mask) {
      Class* c = g_class_index.slot[i];
      if (c == nullptr) break;
      if (same_class(c, how, addr, hash, site)) return c->id;
    }
  }
  const std::uint32_t id = g_nclasses.load(std::memory_order_relaxed);
  if (id >= kMaxClasses - 1) return kMaxClasses - 1;  // the overflow class (never made: not written)
  auto* c = static_cast<Class*>(arena_alloc(sizeof(Class)));
  if (c == nullptr) return kMaxClasses - 1;
  new (c) Class();
  c->id = id;
  c->how = how;
  c->kind = kind;
  c->addr = addr;
  c->hash = hash;
  c->site = site;
  c->level = lv.level;  // under `smplock enforce`: its place in the table (looked up before g_lock)
  c->nest = lv.nest;
  c->entry = lv.entry;
  if (g_class_index.slot == nullptr || (id + 1) * 2 > g_class_index.mask + 1) {
    const std::size_t cap = g_class_index.slot == nullptr ? 256 : (g_class_index.mask + 1) * 2;
    auto** s = static_cast<Class**>(pages(cap * sizeof(Class*)));
    if (s == nullptr) return kMaxClasses - 1;
    for (std::size_t i = 0; g_class_index.slot != nullptr && i <= g_class_index.mask; ++i) {
      Class* o = g_class_index.slot[i];
      if (o == nullptr) continue;
      std::size_t j = class_key(o->how, o->addr, o->hash) & (cap - 1);
      while (s[j] != nullptr) j = (j + 1) & (cap - 1);
      s[j] = o;
    }
    if (g_class_index.slot != nullptr) munmap(g_class_index.slot, (g_class_index.mask + 1) * sizeof(Class*));
    g_class_index.slot = s;
    g_class_index.mask = cap - 1;
  }
  std::size_t j = key & g_class_index.mask;
  while (g_class_index.slot[j] != nullptr) j = (j + 1) & g_class_index.mask;
  g_class_index.slot[j] = c;
  g_classes[id].store(c, std::memory_order_release);
  g_nclasses.store(id + 1, std::memory_order_release);
  return id;
}

// Whether `addr` lies in a loaded object (a global or static lock): lock-free on glibc >= 2.35.
bool in_object(const void* addr) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  dl_find_object info;
  return _dl_find_object(const_cast<void*>(addr), &info) == 0;
#else
  Dl_info info;
  return dladdr(addr, &info) != 0 && info.dli_fbase != nullptr;
#endif
}

// A new instance (cold): its class by symbol, init site, heap block (allocation site and offset) or
// first acquisition site.
__attribute__((noinline, cold)) std::uint32_t make_instance(const void* lock, Kind kind, bool init) {
  Inside in;
  const auto addr = reinterpret_cast<std::uintptr_t>(lock);
  Stack site;
  How how = How::Symbol;
  std::uintptr_t ident = addr;  // what names the class besides its site: Symbol's address, Alloc's offset
  HeapBlock block;
  if (!in_object(lock)) {
    if (!init && heap_block_of(addr, block)) {
      how = How::Alloc;
      site.n = 1;
      site.pc[0] = block.site;
      ident = addr - block.start;
    } else {
      how = init ? How::Init : How::FirstUse;
      capture(site);
    }
  }
  // The table's level, asked of the dynamic linker outside g_lock (dladdr takes the loader's lock,
  // which a thread in dlopen holds while its constructors lock mutexes).
  const TableLevel lv = resolve_level(how, ident, site);
  SpinGuard g(g_lock);
  std::uint32_t cls = 0;
  if (!init && lookup(addr, cls)) return cls;  // another thread made it meanwhile
  if (init) erase_instance(addr);                 // re-made at the same address: a new instance
  cls = find_or_make_class(how, kind, ident, site, lv);
  if (cls < kMaxClasses - 1) g_classes[cls].load(std::memory_order_relaxed)->instances.fetch_add(1, std::memory_order_relaxed);
  insert_instance(addr, cls);
  return cls;
}

void fork_prepare() { g_lock.lock(); }
void fork_parent() { g_lock.unlock(); }

// The child has one thread: the others' records are freed (what they held is gone with them) and
// every count starts again from zero, so a child's trace holds what the child did.
void fork_child() {
  g_lock.reset();
  Thread* me = t_self;
  for (Thread* r = g_threads.load(std::memory_order_relaxed); r != nullptr; r = r->next) {
    if (r != me && r->live.load(std::memory_order_relaxed)) {
      r->live.store(false, std::memory_order_relaxed);
      ++g_free_records;
    }
  }
  const std::uint32_t nclasses = g_nclasses.load(std::memory_order_relaxed);
  for (std::uint32_t id = 0; id < nclasses; ++id) {
    Class* c = g_classes[id].load(std::memory_order_relaxed);
    c->acquisitions.store(0, std::memory_order_relaxed);
    c->contended.store(0, std::memory_order_relaxed);
    c->wait_ns.store(0, std::memory_order_relaxed);
    c->max_wait_ns.store(0, std::memory_order_relaxed);
    c->hold_ns.store(0, std::memory_order_relaxed);
    c->hold_samples.store(0, std::memory_order_relaxed);
    for (ContendedSite& s : c->sites) {
      s.pc.store(0, std::memory_order_relaxed);
      s.count.store(0, std::memory_order_relaxed);
    }
  }
  const std::uint32_t nedges = g_nedges.load(std::memory_order_relaxed);
  for (std::uint32_t id = 0; id < nedges; ++id) {
    Edge* e = g_edges[id].load(std::memory_order_relaxed);
    e->count.store(0, std::memory_order_relaxed);
    e->blocking.store(0, std::memory_order_relaxed);
    e->read_read.store(0, std::memory_order_relaxed);
    e->address_order.store(0, std::memory_order_relaxed);
    e->thread_count = 0;
    e->guards_set = false;
    e->nguards = 0;
  }
  g_threads_seen.store(0, std::memory_order_relaxed);
  if (me > kInside) {
    // Keeps the held stack (the forking thread's locks are still held in the child).
    reset_counts(me);
    me->life.store(me->life.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    me->tid = static_cast<pid_t>(syscall(SYS_gettid));
    g_threads_seen.store(1, std::memory_order_relaxed);
  }
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  g_started_unix_ns = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
  g_started_mono_ns = now_ns();
}

}  // namespace

// --- entry points ------------------------------------------------------------------------------

void start_runtime() {
  Inside in;
  load_enforce();
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  g_started_unix_ns = static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
  g_started_mono_ns = now_ns();
  g_classes = static_cast<std::atomic<Class*>*>(pages(sizeof(std::atomic<Class*>) * kMaxClasses));
  g_edges = static_cast<std::atomic<Edge*>*>(pages(sizeof(std::atomic<Edge*>) * kMaxEdges));
  g_instances.store(new_instance_table(1024), std::memory_order_release);
  if (g_classes == nullptr || g_edges == nullptr || g_instances.load() == nullptr) return;
  if (pthread_key_create(&g_key, thread_exit) != 0) return;
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  g_started.store(true, std::memory_order_release);
}

Thread* self() {
  Thread* t = t_self;
  if (__builtin_expect(t > kInside, 1)) return t;
  if (t != nullptr || !g_started.load(std::memory_order_acquire)) return nullptr;
  return make_thread();
}

std::uint32_t instance_of(const void* lock, Kind kind, std::uintptr_t, bool init) {
  std::uint32_t cls;
  if (__builtin_expect(!init && lookup(reinterpret_cast<std::uintptr_t>(lock), cls), 1)) return cls;
  return make_instance(lock, kind, init);
}

void forget_instance(const void* lock) {
  Inside in;
  SpinGuard g(g_lock);
  erase_instance(reinterpret_cast<std::uintptr_t>(lock));
}

void forget_instances_in(std::uintptr_t lo, std::uintptr_t hi) {
  // Inside the runtime (g_lock may be this thread's), or not started: nothing to forget safely.
  if (t_self == kInside || !g_started.load(std::memory_order_acquire)) return;
  Inside in;
  // Every lock type is at least 4-byte aligned; probes without the lock, erases under it.
  for (std::uintptr_t a = (lo + 3) & ~std::uintptr_t{3}; a < hi; a += 4) {
    std::uint32_t cls;
    if (!lookup(a, cls)) continue;
    SpinGuard g(g_lock);
    erase_instance(a);
  }
}

void after_acquire(Thread* t, const void* lock, std::uint32_t cls, const Acquire& a) {
  if (__builtin_expect(cls >= kMaxClasses - 1, 0)) return;
  if (!g_recording) {
    // Enforce only: the held stack the order check reads, nothing counted, no edges, no hold time.
    Class* c = g_classes[cls].load(std::memory_order_relaxed);
    if (__builtin_expect(!c->used.load(std::memory_order_relaxed), 0)) c->used.store(true, std::memory_order_relaxed);
    bool again = false;
    for (std::size_t i = 0; i < t->nheld && !again; ++i) again = t->held[i].lock == lock;
    push_held(t, lock, cls, a.read, again, c->level, a.pc, 0);
    return;
  }
  ClassLocal& mine = class_local(t, cls);
  bump(mine.acquisitions);
  if (a.contended) {
    bump(mine.contended);
    bump(mine.wait_ns, a.wait_ns);
    if (a.wait_ns > mine.max_wait_ns.load(std::memory_order_relaxed)) mine.max_wait_ns.store(a.wait_ns, std::memory_order_relaxed);
    record_contended_site(g_classes[cls].load(std::memory_order_relaxed), a.pc);
  }
  bool reentry = false;
  if (t->nheld != 0) {
    // Pass 1: stamp every held class with this acquisition's serial (guards test the stamp), find a
    // recursive re-lock, and the highest held instance of the same class (same-class nesting).
    const std::uint64_t serial = t->serial += 2;
    bool nest = false;
    std::uintptr_t max_same = 0;
    for (std::size_t i = 0; i < t->nheld; ++i) {
      const Held& h = t->held[i];
      if (h.lock == lock) reentry = true;
      class_local(t, h.cls).stamp = serial;
      if (h.cls == cls) {
        nest = true;
        if (reinterpret_cast<std::uintptr_t>(h.lock) > max_same) max_same = reinterpret_cast<std::uintptr_t>(h.lock);
      }
    }
    if (!reentry) {
      if (nest) note_edge(t, cls, cls, a, false, reinterpret_cast<std::uintptr_t>(lock) > max_same, 0);
      // Pass 2: one edge per held class (serial + 1 marks a class already done this time).
      for (std::size_t i = 0; i < t->nheld; ++i) {
        const Held& h = t->held[i];
        if (h.cls == cls) continue;
        ClassLocal& l = class_local(t, h.cls);
        if (l.stamp != serial) continue;
        l.stamp = serial + 1;
        note_edge(t, h.cls, cls, a, h.read && a.read,
                  reinterpret_cast<std::uintptr_t>(lock) > reinterpret_cast<std::uintptr_t>(h.lock), h.pc);
      }
      // Under `smplock enforce` the order is checked before the call could wait (check_order).
    }
  }
  std::uint64_t t0 = 0;
  if (!reentry && (++t->sample & 63) == 0) t0 = now_ns();  // hold time on one acquisition in 64
  Class* c = g_classes[cls].load(std::memory_order_relaxed);
  if (__builtin_expect(!c->used.load(std::memory_order_relaxed), 0)) c->used.store(true, std::memory_order_relaxed);
  const std::int32_t level = c->level;
  push_held(t, lock, cls, a.read, reentry, level, a.pc, t0);
}

bool before_release(Thread* t, const void* lock) {
  for (std::size_t i = t->nheld; i-- > 0;) {
    Held& h = t->held[i];
    if (h.lock != lock) continue;
    if (h.t0 != 0) {
      ClassLocal& l = class_local(t, h.cls);
      bump(l.hold_ns, now_ns() - h.t0);
      bump(l.hold_samples);
    }
    // Usually the top; otherwise the ones above move down.
    for (std::size_t j = i + 1; j < t->nheld; ++j) t->held[j - 1] = t->held[j];
    --t->nheld;
    return true;
  }
  return false;
}

}  // namespace smplock::record
