// The record runtime's data: classes, edges, per-thread records, and the spin lock and arena that
// the cold paths share. runtime.cpp changes it; trace.cpp reads it at exit. Every field another
// thread may read while its owner writes is a relaxed atomic (written with load+store, not a locked
// read-modify-write, by its only writer): the trace written at exit may see a count a few
// acquisitions old, never a torn one.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime.hpp"

namespace smplock::record {

// The runtime's own lock: a test-and-set that yields, never a pthread mutex (which it interposes).
// Taken on cold paths only; fork's prepare handler takes it so a child never inherits it held.
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire)) {
      while (flag_.load(std::memory_order_relaxed)) sched_yield();
    }
  }
  void unlock() { flag_.store(false, std::memory_order_release); }
  // One try (a fatal signal's handler, which must not wait for good: signals.hpp).
  bool try_lock() { return !flag_.load(std::memory_order_relaxed) && !flag_.exchange(true, std::memory_order_acquire); }
  void reset() { flag_.store(false, std::memory_order_relaxed); }

 private:
  std::atomic<bool> flag_{false};
};

struct SpinGuard {
  explicit SpinGuard(SpinLock& l) : l_(l) { l_.lock(); }
  ~SpinGuard() { l_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;
  SpinLock& l_;
};

// Zeroed memory from mmap that is never given back (the runtime's data lives as long as the
// process). Call with g_lock held.
void* arena_alloc(std::size_t bytes);
// Zeroed pages of its own (large or owner-private blocks: held stacks, tables).
void* pages(std::size_t bytes);

using Counter = std::atomic<std::uint64_t>;
inline void bump(Counter& c, std::uint64_t by = 1) {
  c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

inline constexpr int kContendedSites = 8;
struct ContendedSite {
  std::atomic<std::uintptr_t> pc{0};
  Counter count{0};
};

// A lock class. Made once (cold, under g_lock), never freed; its id indexes g_classes.
struct Class {
  std::uint32_t id = 0;
  How how = How::FirstUse;
  Kind kind = Kind::Mutex;
  std::uintptr_t addr = 0;  // Symbol: the lock's address (the trace names the object and symbol)
  std::uint64_t hash = 0;   // Init / FirstUse: hash of `site`
  Stack site;               // Init / FirstUse: where the class was made
  Counter instances{0};
  // Totals of exited threads (live threads keep their own, see ClassLocal).
  Counter acquisitions{0}, contended{0}, wait_ns{0}, max_wait_ns{0}, hold_ns{0}, hold_samples{0};
  ContendedSite sites[kContendedSites];
  // Under `smplock enforce`: the level the loaded table gives (-1: not in the table), whether two
  // instances may nest (in address order), and its table line (enforce.cpp). Set when made.
  std::int32_t level = -1;
  bool nest = false;
  std::int32_t entry = -1;
  std::atomic<bool> used{false};  // acquired at least once (a class only made is in no trace or list)
};

inline constexpr int kMaxTids = 16;
inline constexpr int kMaxGuards = 8;

// An order edge between two classes (from == to: same-class nesting). Made once, never freed.
struct Edge {
  std::uint32_t id = 0;
  std::uint32_t from = 0, to = 0;
  std::uintptr_t from_pc = 0;  // first occurrence: where "from" was taken (its call's return address)
  Stack to_stack;              // first occurrence: where "to" was taken
  pid_t tids[kMaxTids] = {};
  std::uint32_t thread_count = 0;  // thread lives that saw it (exact)
  // Totals of exited threads.
  Counter count{0}, blocking{0}, read_read{0}, address_order{0};
  // Classes held at every occurrence so far (by threads that have merged), under g_lock.
  bool guards_set = false;
  std::uint32_t nguards = 0;
  std::uint32_t guards[kMaxGuards] = {};
};

// A thread's own counters for one class. 64 bytes, in chunks of 256 classes.
struct ClassLocal {
  Counter acquisitions{0}, contended{0}, wait_ns{0}, max_wait_ns{0}, hold_ns{0}, hold_samples{0};
  std::uint64_t stamp = 0;  // == the acquisition serial while the class is held (owner only)
  std::uint64_t pad = 0;
};
inline constexpr std::uint32_t kChunkClasses = 256;
inline constexpr std::uint32_t kChunkDir = 4096;
inline constexpr std::uint32_t kMaxClasses = kChunkClasses * kChunkDir;  // beyond: one overflow class

// A thread's own view of one edge: counted here, merged into the Edge at thread exit / trace write.
struct EdgeLocal {
  std::uint64_t key = 0;  // from << 32 | to
  Edge* edge = nullptr;
  std::atomic<std::uint64_t> life{0};  // the thread life that registered it (a reused record resets)
  Counter count{0}, blocking{0}, read_read{0}, address_order{0};
  std::atomic<std::uint32_t> nguards{0};
  std::atomic<std::uint32_t> guards[kMaxGuards] = {};
};

// One held lock.
struct Held {
  const void* lock;
  std::uint32_t cls;
  bool read;
  bool reentry;  // a recursive re-lock of a lock this thread already holds: no edge, no hold time
  std::int16_t level;  // its class's level under `smplock enforce` (-1: none), for the order check
  std::uintptr_t pc;
  std::uint64_t t0;  // sampled acquisition time, 0 when not sampled
};

struct EdgeTable {
  std::size_t mask;
  std::size_t used;
  std::atomic<EdgeLocal*> slot[1];  // mask + 1 of them
};

struct Thread {
  Thread* next = nullptr;            // g_threads list (never unlinked; records are reused)
  std::atomic<bool> live{false};
  std::atomic<std::uint64_t> life{0};  // bumped each time the record is given to a new thread
  pid_t tid = 0;
  Held* held = nullptr;
  std::size_t nheld = 0, cap_held = 0;
  std::atomic<ClassLocal*>* dir = nullptr;  // kChunkDir chunk pointers
  std::atomic<EdgeTable*> edges{nullptr};
  std::uint64_t serial = 0;
  std::uint32_t sample = 0;
};

// Shared state.
extern SpinLock g_lock;
extern std::atomic<std::uint32_t> g_nclasses;
extern std::atomic<Class*>* g_classes;  // kMaxClasses pointers (pages, touched as used)
extern std::atomic<std::uint32_t> g_nedges;
extern std::atomic<Edge*>* g_edges;     // kMaxEdges pointers
inline constexpr std::uint32_t kMaxEdges = 1u << 22;
extern std::atomic<Thread*> g_threads;
extern std::atomic<std::uint64_t> g_threads_seen;
extern std::uint64_t g_started_unix_ns, g_started_mono_ns;

}  // namespace smplock::record
