// smplock/detail/irq_state.hpp: per-CPU interrupt delivery state, a member of CpuRecord. Not for
// users. (Owned by the interrupt part: src/irq.cpp and src/irq_lowipl.cpp.)
//
//   LowiplSlot   one queued lowipl routine.
//   IrqCpuState  what a CPU keeps about its interrupts besides CpuRecord::pending: when each
//                pending line was first raised, which lines were held back by the level and by
//                which lock class, the delivery loop marker, and the CPU's lowipl queue.
//
// Every field is zero when the CPU is fresh, so the record needs no constructor work (records are
// fresh zeroed mappings). Everything here is touched by the owning thread and by its signal handler;
// the fields written by other threads (raised_ns) sit on a cache line of their own.
#pragma once

#include <atomic>
#include <cstdint>

namespace smplock::detail {

inline constexpr unsigned kIrqLines = 16;
// Lowipl routines a CPU may have queued and not yet run (it runs them when it drops to Null).
inline constexpr unsigned kLowiplSlots = 512;

// A slot is ready when `fn` is set: the call writes `arg` first and `fn` last (release), the
// drain reads `fn` (acquire), then `arg`, and clears `fn` before freeing the slot.
struct LowiplSlot {
  std::atomic<void (*)(void*)> fn{nullptr};
  std::atomic<void*> arg{nullptr};
};

struct IrqCpuState {
  // --- written by any raiser: the time of the first raise of a line not yet delivered, indexed
  // by level offset like the pending bits (0: none recorded). CAS 0 -> time by the raiser,
  // exchange -> 0 by the delivery. ---
  alignas(64) std::atomic<std::uint64_t> raised_ns[kIrqLines]{};

  // --- written by the owning CPU and its signal handler only ---
  // Lines (by level offset) that were seen pending while the level held them back.
  alignas(64) std::atomic<std::uint32_t> deferred{0};
  // For each deferred line: the class id of the lock at the top of the CPU when it was held back
  // (0: unknown, e.g. caught between an acquire's level store and its held-slot write).
  std::atomic<std::uint16_t> blocker[kIrqLines]{};
  // Base level + 1 of the innermost delivery loop running on this CPU (0: none). A delivery
  // called from a release back to that same level returns at once: the loop looks again itself.
  std::atomic<std::uint16_t> loop_base{0};
  // Interrupt-signal handler activations running on this CPU. The signal is blocked while one
  // runs, and unblocked only while it runs a line's handlers (or lowipl routines), so a nested
  // activation can only deliver something higher and the nesting depth is bounded by the levels.
  std::atomic<std::uint32_t> in_signal{0};
  // Whether the innermost running activation has opened the signal (a SignalWindow): what the
  // kernel's mask should be, kept where the handler can check it. Set before the signal is
  // unblocked and cleared only after it is blocked again, so an activation that a window lets in
  // always finds it set.
  std::atomic<bool> window_open{false};
  // irq::signal_stats(): kept by this CPU's handler alone (plain load and store), read by anyone.
  std::atomic<std::uint32_t> max_signal_depth{0};
  std::atomic<std::uint64_t> signal_activations{0};
  std::atomic<std::uint64_t> signal_nested{0};
  std::atomic<std::uint64_t> nested_outside_window{0};

  // The lowipl queue: a ring of tickets. `tail` hands out tickets (CAS, so a signal handler
  // queueing in the middle of another call on the same CPU is safe); `head` is the next ticket to
  // run, advanced only by the delivery loop at Softint.
  std::atomic<std::uint32_t> lowipl_head{0};
  std::atomic<std::uint32_t> lowipl_tail{0};
  LowiplSlot lowipl[kLowiplSlots];
};

}  // namespace smplock::detail
