// smplock/detail/cpu_record.hpp: the per-CPU record. Not for users: the library's own state.
//
//   CpuRecord     one per CPU index: its level, the locks it holds, the interrupts pending for it,
//                 and the statistics it owns.
//   cpu_record()  the record of an index (nullptr: never used); cpu_high() bounds the indices.
//   this_cpu()    the calling thread's record, attaching the thread as a CPU on first use.
//
// Records are mapped (zeroed, by mmap) the first time their index is handed out, and kept for that
// index for the life of the process: a thread that takes the index later reuses the record, and a
// pointer to a record never dangles. Nothing per CPU sits in the program's .data or .bss, so a
// program pays for the CPUs it has, not for the most it could have (docs/embedding.md).
//
// Everything a signal handler touches is here, set up when the thread attaches, before its first
// acquire: the handler and the code it interrupts are the same CPU, so the record is read and
// written by both. The rule that makes that safe is the seed's: per-CPU data is protected by the
// level. Code at level L only touches held-lock slots and counters of levels >= L... and a handler
// only runs above the interrupted level, so the two never write the same slot, and any nested
// update a handler makes is undone before it returns. Orders between the two are signal fences.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <source_location>

#include "smplock/detail/counters.hpp"
#include "smplock/detail/cpu_table.hpp"
#include "smplock/detail/irq_state.hpp"
#include "smplock/level.hpp"

namespace smplock {
class Lock;
}

namespace smplock::detail {

inline constexpr unsigned kMaxClasses = 1024;  // lock classes (name + level) a program may have
inline constexpr unsigned kLevels = 256;
inline constexpr unsigned kCallSites = 8;      // contended call sites remembered per class
inline constexpr unsigned kNestParents = 2;    // parent classes remembered per CPU and class

// Nesting samples of one class on one CPU (src/stats.cpp): the counters, and the first
// kNestParents classes found directly below, each slot (parent class id << 48) | samples, 0: free.
struct NestSlot {
#define SMPLOCK_NEST_FIELD(name, key, text) std::atomic<std::uint64_t> name{0};
  SMPLOCK_NESTING_COUNTERS(SMPLOCK_NEST_FIELD)
#undef SMPLOCK_NEST_FIELD
  std::atomic<std::uint64_t> parent[kNestParents]{};
};

// Bits of CpuRecord::pending. IRQ bits are indexed by level - kIrqLevelLow (so a higher bit is a
// higher priority); the rest are the software interrupts.
inline constexpr std::uint32_t kPendingIrqMask = 0xFFFFu;
inline constexpr std::uint32_t kPendingSoftint = 1u << 16;  // a softint waits for level Null
inline constexpr std::uint32_t kPendingLowipl = 1u << 17;   // lowipl routines queued for this CPU

// One held lock. Indexed by the lock's level: levels strictly rise, so there is at most one lock
// per level and the array can never overflow.
//
// `key` packs what release()'s fast path checks into one word, so that one compare says "this lock,
// released to the level its acquire returned, not nested, not timed":
//   bits 0-47   the lock's address (registration checks that it fits; 0: no lock at this level)
//   bits 48-55  flags: kNested (R3 acquires outstanding, counted in `nest`), kTimed (hold timed)
//   bits 56-63  the level acquire() returned
struct HeldEntry {
  std::uint64_t key = 0;
  std::source_location where{};    // the acquire's call site (the user's line: see site_id below)
  std::uint32_t nest = 0;          // nested (R3) acquires not yet released; kNested while nonzero
  std::uint64_t acquired_ns = 0;   // valid only while kTimed is set

  static constexpr std::uint64_t kAddressMask = (1ull << 48) - 1;
  static constexpr std::uint64_t kNested = 1ull << 48;
  static constexpr std::uint64_t kTimed = 1ull << 49;
  static constexpr unsigned kPreviousShift = 56;

  static std::uint64_t make_key(const Lock* lock, std::uint8_t previous) {
    return reinterpret_cast<std::uintptr_t>(lock) | (std::uint64_t{previous} << kPreviousShift);
  }
  const Lock* lock() const { return reinterpret_cast<const Lock*>(key & kAddressMask); }
  Level previous() const { return static_cast<Level>(key >> kPreviousShift); }
};

// A call site's identity, as the contended call-site table keeps it: the std::source_location's
// one pointer, to the constant data the compiler made for that call (0: no site), and back. A site
// is the source_location of the user's acquire (smplock/lock.hpp says how each way of taking a lock
// passes it on), so it names itself: the reports need no stack walk and no debug information.
static_assert(sizeof(std::source_location) == sizeof(std::uintptr_t), "a source_location is one pointer");
inline std::uintptr_t site_id(std::source_location where) { return std::bit_cast<std::uintptr_t>(where); }
inline std::source_location site_of(std::uintptr_t id) { return std::bit_cast<std::source_location>(id); }

struct alignas(64) CpuRecord {
  // --- written by the owning CPU (and its signal handler, at higher levels) ---
  std::atomic<std::uint8_t> level{0};  // the CPU's level (a Level)
  std::uint32_t tag = 0;               // index + 1: what this CPU writes into a lock word
  int index = 0;                       // set when the record is first mapped, never changed
  std::atomic<int> tid{0};             // kernel thread id, for cross-CPU signals (0: detached)
  std::atomic<bool> attached{false};
  HeldEntry held[kLevels];

  // --- written by any thread: interrupts waiting for this CPU (a line of its own) ---
  alignas(64) std::atomic<std::uint32_t> pending{0};

  // --- interrupt delivery state of this CPU (detail/irq_state.hpp) ---
  IrqCpuState irq;

  // --- statistics owned by this CPU ---
#define SMPLOCK_DECLARE_ARRAY(name, key, text) alignas(64) std::atomic<std::uint64_t> name[kMaxClasses]{};
  SMPLOCK_CPU_CLASS_COUNTERS(SMPLOCK_DECLARE_ARRAY)
#undef SMPLOCK_DECLARE_ARRAY
  // Nesting samples and contended acquisitions per class and call-site slot (kCallSites: a site
  // past the class's table), kept by src/stats.cpp.
  alignas(64) NestSlot nesting[kMaxClasses];
  alignas(64) std::atomic<std::uint64_t> site_counts[kMaxClasses][kCallSites + 1];
};
// Every field's fresh value is zero, which is what a new mapping holds: records are used straight
// from mmap, no constructor runs (it would touch, and so commit, every page of the record).

// The records by index (src/cpu.cpp).
extern CpuTable<CpuRecord> g_cpu_table;
extern std::atomic<unsigned> g_cpu_high;

// The record of CPU `index`, or nullptr when no thread ever had that index. A record, once there,
// stays at its address for good. (Attached now or not: see `attached`.)
inline CpuRecord* cpu_record(unsigned index) {
  return index < kMaxCpus ? g_cpu_table.load(index) : nullptr;
}

// 1 + the highest index ever handed out: a bound for loops over every record.
inline unsigned cpu_high() { return g_cpu_high.load(std::memory_order_acquire); }

// An address that is never a CPU's record (never any thread's tls_cpu), for sentinels that must
// be constant-initialised. Storage in .bss that nothing ever touches.
union NoCpuStorage {
  CpuRecord record;
  char none;
  constexpr NoCpuStorage() : none(0) {}
  ~NoCpuStorage() {}
};
extern NoCpuStorage g_no_cpu;
inline constexpr CpuRecord* kNoCpuRecord = &g_no_cpu.record;

// The calling thread's record: an initial-exec TLS pointer, so a signal handler can read it (no
// lazy TLS allocation can happen there).
extern __thread CpuRecord* tls_cpu __attribute__((tls_model("initial-exec")));

CpuRecord& attach_this_thread();  // cold: first use by a thread

inline CpuRecord& this_cpu() {
  CpuRecord* c = tls_cpu;
  if (c == nullptr) [[unlikely]]
    return attach_this_thread();
  return *c;
}

// The calling thread's record, or nullptr if it never used the library (never attaches).
inline CpuRecord* this_cpu_if_attached() { return tls_cpu; }

// Bumps a counter this CPU owns: a plain load and store, no locked instruction.
inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
  counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// Delivers whatever pending interrupts the CPU's level now allows (src/irq.cpp). Called after the
// level drops, only when `pending` is nonzero.
void deliver_pending(CpuRecord& cpu);

// Drops the CPU to `level` and delivers whatever interrupts the lower level lets through. The
// signal fence orders the level store before the read of `pending`: an interrupt that arrives
// after the store is dispatched by its signal handler at the new level; one that arrived before
// is seen here.
inline void drop_level(CpuRecord& cpu, std::uint8_t level) {
  cpu.level.store(level, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  if (cpu.pending.load(std::memory_order_relaxed) != 0) [[unlikely]]
    deliver_pending(cpu);
}

// Whether hold times are measured (stats::set_hold_timing).
extern std::atomic<bool> g_hold_timing;

}  // namespace smplock::detail
