// smplock/detail/counters.hpp: the statistics counters, each declared once, here. The per-CPU
// arrays, the snapshot struct (stats::Counters), the report's columns and the JSON keys are all
// generated from these lists. Not for users: read the counters through smplock/stats.hpp.
//
// Every entry is X(name, json_key, description). A counter whose name starts with "max_" is a
// maximum: combined over CPUs, classes and levels with max(), everything else with +.
#pragma once

#include <cstdint>

// The counters a CPU keeps per lock class, written only by that CPU (relaxed load + store, no
// read-modify-write), read by statistics snapshots from any thread. Each list entry becomes an
// array indexed by class id. The contended path's counters are here too: a waiter that has just
// got the lock bumps its own CPU's lines, not a line every contending CPU writes.
#define SMPLOCK_CPU_CLASS_COUNTERS(X)                                                        \
  X(acquisitions, "acquisitions", "times a lock of the class was taken")                     \
  X(contended, "contended", "acquisitions that found the lock busy")                         \
  X(spins, "spins", "looks at the busy word while waiting (after pauses or a yield)")       \
  X(parks, "parks", "times a waiter slept in the kernel")                                    \
  X(wait_ns, "wait_ns", "total time spent waiting for the lock")                             \
  X(queued_0, "queued_0", "contended acquisitions that found no other waiter")               \
  X(queued_1, "queued_1", "contended acquisitions that found 1 other waiter")                \
  X(queued_2, "queued_2", "contended acquisitions that found 2 other waiters")               \
  X(queued_3plus, "queued_3plus", "contended acquisitions that found 3 or more waiters")     \
  X(hold_ns, "hold_ns", "total time held, while hold timing is on")                           \
  X(hold_samples, "hold_samples", "acquisitions whose hold time was measured")                \
  X(max_hold_ns, "max_hold_ns", "longest single hold measured")

// Counters a class keeps in shared memory, updated with atomic read-modify-writes off the
// uncontended path: the longest wait (an atomic maximum, so a window's value is exact), the
// interrupt delay, which the interrupt part charges to the class that held the interrupt back, and
// the acquisitions made into a same-class group (never on the plain acquire's path).
#define SMPLOCK_SHARED_CLASS_COUNTERS(X)                                                        \
  X(max_wait_ns, "max_wait_ns", "longest single wait")                                          \
  X(irq_deferred, "irq_deferred", "interrupts held back while a lock of the class was the top") \
  X(irq_delay_ns, "irq_delay_ns", "total time those interrupts waited")                          \
  X(same_class, "same_class", "acquisitions made with another lock of the class held (acquire_in_class)")

// Nesting, sampled: one acquisition in kNestSamplePeriod (per CPU and class, counted by the
// CPU's own `acquisitions` counter) records which lock class was held directly below. Kept per
// CPU by src/stats.cpp, written only by the sampling CPU. The parent classes themselves are kept
// beside these counters in a few slots per class (stats::ClassStats::parents).
#define SMPLOCK_NESTING_COUNTERS(X)                                                              \
  X(nest_samples, "nest_samples", "acquisitions sampled for nesting (1 in nest_sample_period)")  \
  X(nest_nested, "nest_nested", "sampled acquisitions made with another lock held directly below")

// Every counter of a class, in report order: the snapshot struct and the JSON keys come from here.
#define SMPLOCK_CLASS_COUNTERS(X) \
  SMPLOCK_CPU_CLASS_COUNTERS(X)   \
  SMPLOCK_SHARED_CLASS_COUNTERS(X) \
  SMPLOCK_NESTING_COUNTERS(X)

namespace smplock::detail {

struct CpuRecord;

// Nesting is sampled when (acquisitions before this one) & kNestSampleMask == 0: the first
// acquisition of a class on a CPU, then every 64th. A power of two so the test is one AND.
inline constexpr std::uint64_t kNestSamplePeriod = 64;
inline constexpr std::uint64_t kNestSampleMask = kNestSamplePeriod - 1;
static_assert((kNestSamplePeriod & kNestSampleMask) == 0, "the sample period is a power of two");

// Records one nesting sample for class `id` acquired by `cpu` from level `below` (src/stats.cpp).
// Cold, out of line; touches only records `cpu` owns.
void sample_nesting(CpuRecord& cpu, std::uint16_t id, std::uint8_t below);

// Counts one contended acquisition of class `id` by `cpu` from call-site slot `slot` of the class
// (0..7; 8: a site past the class's table). The count is `cpu`'s own (src/stats.cpp).
void count_call_site(CpuRecord& cpu, std::uint16_t id, unsigned slot);

}  // namespace smplock::detail
