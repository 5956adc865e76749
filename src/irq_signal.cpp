// The interrupt signal: installing its handler once per process, at the program's first use of the
// interrupt machinery (irq::attach, irq::raise, softint::request, softint::set_routine), never
// before: a program that only takes locks or uses the pool keeps its own disposition of the signal.
// No thread's signal mask is ever changed, except inside the handler itself (SignalWindow, which
// puts the mask back): a thread that blocks the signal gets its interrupts when its level next
// drops (lazy masking checks `pending` on every drop) or, idle, when it unblocks the signal. The
// only interrupt code that calls the OS's signal API. (Linux and any POSIX system with sigaction
// and pthread_sigmask.)
#include <pthread.h>
#include <signal.h>

#include <cerrno>

#include "irq_internal.hpp"
#include "platform/platform.hpp"
#include "smplock/irq.hpp"

namespace smplock {
namespace detail {
namespace {

// 0: not installed, 1: being installed, 2: installed. The signal number is fixed from 1 on.
std::atomic<int> g_install_state{0};

void handle_signal(int, siginfo_t*, void*) {
  const int saved_errno = errno;  // the interrupted code may be between a call and its errno check
  on_interrupt_signal();
  errno = saved_errno;
}

}  // namespace

void install_signal() {
  // Acquire pairs with the installer's release: once we see 2, the handler is in place.
  if (g_install_state.load(std::memory_order_acquire) == 2) [[likely]]
    return;
  // Everyone who gets here before the handler is known to be in place installs it: sigaction with
  // the same handler is idempotent and async-signal-safe, so there is no waiting for another
  // thread (which, if it were the code this signal handler interrupted, would never finish). The
  // first moves 0 -> 1, which fixes the signal number (irq::set_signal refuses from then on).
  int expected = 0;
  g_install_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel);
  struct sigaction sa {};
  sa.sa_sigaction = handle_signal;
  sigemptyset(&sa.sa_mask);
  // SA_RESTART: a CPU blocked in a restartable call resumes it after the handler.
  // No SA_NODEFER: the signal is blocked while its handler runs, and unblocked by the delivery
  // loop only around a line's handlers, so a signal for a higher line can still nest there. With
  // the signal open all the time, a fast enough stream of raises nested handler frames at their
  // first instruction until the stack ran out.
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  if (sigaction(irq::signal_number(), &sa, nullptr) != 0)
    violation(Rule::Fatal, "irq: sigaction() failed for the interrupt signal", nullptr, nullptr, {});
  g_install_state.store(2, std::memory_order_release);
}

void open_signal(sigset_t* saved) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, irq::signal_number());
  pthread_sigmask(SIG_UNBLOCK, &set, saved);
}

void restore_signal(const sigset_t* saved) { pthread_sigmask(SIG_SETMASK, saved, nullptr); }

}  // namespace detail

namespace irq {

void set_signal(int signo) {
  if (signo <= 0 || signo > SIGRTMAX || signo == SIGKILL || signo == SIGSTOP) [[unlikely]]
    detail::violation(Rule::Fatal, "irq::set_signal(): not a signal that can be caught", nullptr,
                      detail::this_cpu_if_attached(), {}, "signal", signo);
  if (detail::g_install_state.load(std::memory_order_acquire) != 0) {
    if (signo == signal_number()) return;
    detail::violation(Rule::Fatal, "irq::set_signal() after the interrupt signal is in use (call it first)", nullptr,
                      detail::this_cpu_if_attached(), {}, "signal", signo);
  }
  detail::g_irq_signal.store(signo, std::memory_order_relaxed);
}

}  // namespace irq
}  // namespace smplock
