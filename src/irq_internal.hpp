// src/irq_internal.hpp: what the interrupt sources (irq.cpp, irq_lowipl.cpp, irq_signal.cpp)
// share.
//
//   checked_cpu()        a raise's or request's target, crashing on an index not attached.
//   kick()               sends the interrupt signal to another CPU's thread.
//   run_software()       the Null-level work: softint routine and lowipl queue.
//   run_lowipl_queue()   this CPU's queued lowipl routines, in order.
//   install_signal()     the signal handler, installed once, at the first use of interrupts.
#pragma once

#include <signal.h>

#include "internal.hpp"

namespace smplock::detail {

// The target CPU of a raise or softint request; a fatal crash if `index` names no attached CPU.
CpuRecord& checked_cpu(int index, const char* who);

// Sends the interrupt signal to `target`'s thread. Async-signal-safe. A thread that has just
// ended is skipped: whatever it left pending is delivered by the next thread to take its index.
void kick(CpuRecord& target);

// Runs the softint routine and the lowipl queue if pending. Called at Null by the delivery loop;
// raises the CPU to Softint for the routines and leaves it at Null.
void run_software(CpuRecord& cpu);

// Runs every lowipl routine queued on `cpu` whose call has finished queueing, oldest first.
// Called at Softint.
void run_lowipl_queue(CpuRecord& cpu);

// After a softint or lowipl routine returns: it must have left the CPU with no lock held.
void check_routine_returned(CpuRecord& cpu, const char* what);

// The delivery loop (irq.cpp): delivers what the CPU's level allows, highest first.
// `own_loop`: run a loop even if one is already running on this CPU at the same level further
// down the stack (the signal handler, and calls that promise delivery before they return: a raise,
// request or call on the CPU itself). Without it (the release paths), a delivery that returns to
// the base level of a running loop leaves the work to that loop, which looks again when the
// release returns to it: that keeps the stack flat however many interrupts arrive.
void deliver_loop(CpuRecord& cpu, bool own_loop);

// Installs the signal handler once per process (idempotent, thread-safe, async-signal-safe, never
// waits). Called by the first use of the interrupt machinery, never by attach, a lock or the pool.
// No thread's signal mask is touched.
void install_signal();
// Unblocks the interrupt signal, saving the mask it replaced in *saved; restore_signal() puts that
// mask back. (Restoring rather than blocking matters where a handler does not run on the kernel's
// signal frame, as under ThreadSanitizer, whose deferred delivery has no mask to restore itself.)
void open_signal(sigset_t* saved);
void restore_signal(const sigset_t* saved);

// Inside the interrupt signal's handler the signal is blocked. SignalWindow opens it while a line's
// handlers (or lowipl routines) run, once the level has been raised for them, so only something
// higher can nest (as on hardware), and closes it again after. Outside the handler: nothing.
//
// It also keeps IrqCpuState::window_open, which the handler checks on entry (signal_stats()'s
// nested_outside_window): marked before the signal opens and unmarked only once it is closed
// again, so an activation the window lets in always finds the mark. Relaxed + signal fences: only
// this CPU and its own activations touch it.
class SignalWindow {
 public:
  explicit SignalWindow(CpuRecord& cpu)
      : irq_(cpu.irq), open_(cpu.irq.in_signal.load(std::memory_order_relaxed) != 0) {
    if (!open_) return;
    was_open_ = irq_.window_open.load(std::memory_order_relaxed);
    irq_.window_open.store(true, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    open_signal(&saved_);
  }
  ~SignalWindow() {
    if (!open_) return;
    restore_signal(&saved_);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    irq_.window_open.store(was_open_, std::memory_order_relaxed);
  }
  SignalWindow(const SignalWindow&) = delete;
  SignalWindow& operator=(const SignalWindow&) = delete;

 private:
  IrqCpuState& irq_;
  const bool open_;
  bool was_open_ = false;  // a window opened again inside one (a handler's own raise) keeps it open
  sigset_t saved_;
};
// The signal handler's body (irq.cpp): errno is already saved by the caller.
void on_interrupt_signal();

extern std::atomic<int> g_irq_signal;

}  // namespace smplock::detail
