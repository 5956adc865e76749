// The record runtime's view of the program's heap: every live block's start, size (capped) and
// allocation site, kept by the malloc-family interposers in heap.cpp, so that a lock with no init
// call outside every loaded object (a std::mutex member of a heap object) gets the class of the
// place that allocated its block plus its offset in the block, as lockdep does it.
//
// The table is lock-free (a signal handler that allocates cannot deadlock on it) and lives in mmap'd
// pages, like the rest of the runtime; the runtime itself never allocates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace smplock::record {

// How far below a lock its block's start is looked for: a lock deeper inside a block than this
// falls back to its first acquisition site (docs/record.md, "Lock classes").
inline constexpr std::uintptr_t kHeapReach = 4096;

struct HeapBlock {
  std::uintptr_t start = 0;
  std::uintptr_t site = 0;  // the return address of the allocation call (operator new's caller for `new`)
};

// The live block that contains `addr` and starts at most kHeapReach bytes below it (cold: up to 257
// probes). Marks the block as holding a lock, so that freeing it forgets the lock instances inside.
bool heap_block_of(std::uintptr_t addr, HeapBlock& out);

// Blocks the table had no room for (their locks fall back to first use); written in the trace.
std::uint64_t heap_untracked();

}  // namespace smplock::record
