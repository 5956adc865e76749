// smplock/irq.hpp: interrupt lines (IRQs), held back by the CPU's level.
//
//   irq::attach()      register a handler on one of the 16 lines; returns the line's Lock.
//   irq::detach()      remove it again (waits for a running call of it to finish).
//   irq::line()        the line's Lock, to "lock out" the interrupt by acquiring it.
//   irq::raise()       raise a line on a CPU: from any thread, any level, or a signal handler.
//   irq::set_signal()  the POSIX signal that carries an IRQ to another CPU's thread.
//   irq::LineStats     per-line counters: raises, merges, deliveries, deferrals and their delay.
//   irq::SignalStats   how deep the interrupt signal's handler nested, and where.
//
// The model (docs/interrupts.md has the picture). A handler runs on the target CPU at its line's
// level (irq_level(n)) with the line's lock held, so:
//   - it is never run while its CPU is at or above that level: it waits (is "deferred") and runs
//     the moment a release drops the CPU below the line's level, highest line first;
//   - a higher line may interrupt it, an equal or lower one never;
//   - holding the line's Lock on any CPU keeps that line's handlers off every CPU ("lock out");
//   - raised on the calling CPU below the line's level, the handler has run before raise()
//     returns;
//   - raises of a line already pending on a CPU merge into one delivery (like a hardware line);
//     a raise is never lost: every raise is followed by a handler call that starts after it.
//
// Another CPU is reached with a signal (SIGURG unless set_signal() says otherwise). Masking is
// lazy: raising and lowering the level never makes a system call; the signal handler dispatches
// only what the interrupted level allows and leaves the rest pending for the release path. A CPU
// blocked in a system call is interrupted too: restartable calls (read, write, futex waits) resume
// after the handler, others (poll, nanosleep, select, epoll_wait) return EINTR as with any
// signal.
//
// Handlers may run inside that signal handler, in the middle of whatever the CPU was doing below
// the line's level: keep them to this library's calls and async-signal-safe functions (no malloc,
// no stdio). Per-CPU data they share with normal code is protected by the level: touch it from
// normal code holding the line's lock (or any lock at or above the line's level).
#pragma once

#include <cstdint>

#include "smplock/level.hpp"
#include "smplock/lock.hpp"

namespace smplock::irq {

using Handler = void (*)(void* arg);

// Most handlers one line may have at once.
inline constexpr unsigned kMaxHandlers = 8;

// attach(n, fn, arg): adds fn(arg) to line n's handlers and returns the line's Lock. Several per
// line are allowed: each delivery calls every one of them, one after the other, in the order of
// the table's slots (the order attached, unless a detach freed an earlier slot). Takes the line's
// lock, so call it below the line's level (R1). Crashes (fatal) on a bad line number or when the
// line already has kMaxHandlers handlers.
Lock& attach(unsigned n, Handler fn, void* arg);

// detach(n, fn, arg): removes the handler attached with exactly (fn, arg). When it returns the
// handler is not running on any CPU and will not run again. Crashes (fatal) if there is no such
// handler. Below the line's level, like attach().
void detach(unsigned n, Handler fn, void* arg);

// The Lock of line n (level irq_level(n), name "IRQ n"), in static storage. Crashes on a bad n.
Lock& line(unsigned n);

// raise(n, cpu): makes line n pending on CPU `cpu` (an index from cpu_index()). Allowed from any
// thread (a CPU or not), at any level, and from a signal handler; never allocates. Crashes
// (fatal) on a line >= 16 or a CPU index that is not attached.
void raise(unsigned n, int cpu);

// set_signal(signo): the signal used to reach other CPUs (default SIGURG, whose default action is
// to ignore it, so a stray one never kills). Call it before the program first uses interrupts
// (attach, raise, softint::request or softint::set_routine, which install the handler; locks and
// the pool never do); afterwards only the same number is accepted (anything else is a fatal
// crash), as is a number that cannot be caught (SIGKILL, SIGSTOP) or is out of range. smplock never
// changes a thread's signal mask (docs/embedding.md).
void set_signal(int signo);
int signal_number();

// Per-line counters, summed over all CPUs (relaxed atomics: a snapshot while raises are in flight
// may be off by the raises in flight).
//   raised     raise() calls
//   merged     raises that found the line already pending on their CPU (folded into one delivery)
//   delivered  deliveries (one call of each attached handler each): raised - merged, once quiet
//   deferred   deliveries that were seen held back by the CPU's level first
//   delay_ns / max_delay_ns    time from raise to handler start of the deferred ones
//   latency_ns / max_latency_ns  time from raise to handler start of every delivery
struct LineStats {
  std::uint64_t raised = 0;
  std::uint64_t merged = 0;
  std::uint64_t delivered = 0;
  std::uint64_t deferred = 0;
  std::uint64_t delay_ns = 0;
  std::uint64_t max_delay_ns = 0;
  std::uint64_t latency_ns = 0;
  std::uint64_t max_latency_ns = 0;
};
LineStats line_stats(unsigned n);
void reset_line_stats();

// How the interrupt signal's handler nested, over every CPU since the program started (counters
// each CPU's handler keeps for itself, read relaxed: a snapshot while signals arrive may miss
// those). The handler runs with the signal blocked; the delivery loop opens it only around a
// line's handlers and softint/lowipl routines, at their level, so an activation can begin on top
// of another only there, and only to deliver something higher.
//   activations            handler activations on a CPU (a thread that is no CPU is not counted)
//   nested                 activations that began while another was running on the same CPU
//   max_depth              the most activations running at once on one CPU. At most 18: one for
//                          each level a window can be open at (Softint and the 16 IRQ levels),
//                          plus one that finds the highest open and has nothing left to deliver.
//                          (A softint or lowipl routine that calls set_softint(true) drops to
//                          Null inside its window and can stack more.)
//   nested_outside_window  nested activations that began while the running one had not opened
//                          the signal. Always 0: anything else means the signal was left open
//                          where the code keeps it blocked, the way to an unbounded depth.
// Never reset; a window of time is the difference of two snapshots (max_depth excepted).
struct SignalStats {
  std::uint64_t activations = 0;
  std::uint64_t nested = 0;
  std::uint32_t max_depth = 0;
  std::uint64_t nested_outside_window = 0;
};
SignalStats signal_stats();

}  // namespace smplock::irq
