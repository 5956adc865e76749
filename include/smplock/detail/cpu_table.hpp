// smplock/detail/cpu_table.hpp: a table of pointers indexed by CPU index, for per-CPU state that
// must not be sized by the whole index space up front. Not for users.
//
//   CpuTable<T>   std::atomic<T*> per CPU index (0..kMaxCpus-1). Constexpr-constructible and all
//                 zero, so a table in static storage costs its directory only (kMaxCpus / 512
//                 pointers: 1 KiB) and never lands in .data on its own account; the entries live
//                 in 4 KiB chunks mapped (zeroed) the first time an index in them is touched, and
//                 kept for the life of the process.
//
// A chunk is mapped with mmap, which allocates nothing and takes no lock, so a first touch is safe
// anywhere a system call is (a signal handler included), and safe inside a malloc.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#ifndef SMPLOCK_MAX_CPUS
#define SMPLOCK_MAX_CPUS 32767
#endif

namespace smplock::detail {

// The CPU index space: a lock word holds the owner's index + 1 in 16 bits, and a lock counts its
// sleepers in 15 (its 16th bit marks a hungry waiter: smplock/lock.hpp).
inline constexpr unsigned kMaxCpus = SMPLOCK_MAX_CPUS;
static_assert(kMaxCpus >= 1 && kMaxCpus <= 0x7FFF, "a lock counts sleeping CPUs in 15 bits (SMPLOCK_MAX_CPUS <= 32767)");

// Maps `bytes` of zeroed memory, never freed. A fatal crash when the OS has none left (the caller
// is attaching a CPU or making per-CPU state: there is no way to go on without it).
void* map_zeroed(std::size_t bytes, const char* what);

// The entry array of one chunk, mapped once and published by a CAS: `slot` is the directory entry.
void* cpu_table_chunk(std::atomic<void*>& slot, std::size_t bytes);
// Gives a chunk's mapping back and empties its directory entry.
void cpu_table_unmap(std::atomic<void*>& slot, std::size_t bytes);

template <class T>
class CpuTable {
 public:
  static constexpr unsigned kChunk = 512;  // entries per chunk: one 4 KiB page of pointers
  static constexpr unsigned kChunks = (kMaxCpus + kChunk - 1) / kChunk;

  constexpr CpuTable() = default;
  CpuTable(const CpuTable&) = delete;
  CpuTable& operator=(const CpuTable&) = delete;

  // The entry of index i, mapping its chunk if this is the first touch.
  std::atomic<T*>& operator[](unsigned i) const noexcept {
    void* c = dir_[i / kChunk].load(std::memory_order_acquire);
    if (c == nullptr) [[unlikely]]
      c = cpu_table_chunk(dir_[i / kChunk], kChunk * sizeof(std::atomic<T*>));
    return static_cast<std::atomic<T*>*>(c)[i % kChunk];
  }

  // The entry of index i, or nullptr when its chunk was never touched (maps nothing).
  std::atomic<T*>* find(unsigned i) const noexcept {
    // Acquire pairs with the CAS that published the chunk: its zeroed entries are visible.
    void* c = dir_[i / kChunk].load(std::memory_order_acquire);
    return c == nullptr ? nullptr : &static_cast<std::atomic<T*>*>(c)[i % kChunk];
  }

  // The pointer stored for index i (nullptr: none, or never touched). Maps nothing.
  T* load(unsigned i, std::memory_order order = std::memory_order_acquire) const noexcept {
    const std::atomic<T*>* e = find(i);
    return e == nullptr ? nullptr : e->load(order);
  }

  // Calls f(entry) for every entry of every chunk mapped so far (untouched indices are skipped).
  template <class F>
  void for_each(F&& f) const {
    for (std::atomic<void*>& d : dir_)
      if (void* c = d.load(std::memory_order_acquire))
        for (unsigned i = 0; i < kChunk; ++i) f(static_cast<std::atomic<T*>*>(c)[i]);
  }

  // Gives every chunk back to the OS. Only for a table nothing can reach any more (a pool's
  // teardown). There is no destructor on purpose: a table in static storage must outlive every
  // thread, static destructors included.
  void unmap_all() noexcept {
    for (std::atomic<void*>& d : dir_) cpu_table_unmap(d, kChunk * sizeof(std::atomic<T*>));
  }

 private:
  mutable std::atomic<void*> dir_[kChunks]{};
};

}  // namespace smplock::detail
