// The trace of an image that does not reach exit: killed by a fatal signal, or replaced by exec.
//
// Fatal signals. At load, for each signal below whose disposition is SIG_DFL (and only those: a
// signal the program's parent left ignored stays ignored), the record tool installs a handler that
// writes the trace and then lets the signal do what it would have done: the default action comes
// back and the signal is raised again on the same thread (a fault from an instruction simply re-runs
// it), so the exit status, core dump included, is the one without record. The handled set: every
// signal whose default action dumps core (SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGSEGV SIGXCPU
// SIGXFSZ SIGSYS), and the terminating ones something outside sends to end a program (SIGTERM, SIGINT,
// SIGHUP, SIGPIPE, SIGALRM). Not SIGUSR1/2, SIGPROF, SIGVTALRM, SIGIO, SIGPWR, SIGSTKFLT or real-time
// signals: programs use those for their own ends; nor SIGKILL and SIGSTOP, which nobody can catch.
//
// The program sees no difference: sigaction() (and __sigaction), signal() (bsd_signal, ssignal) and
// sysv_signal() are interposed. A handler or SIG_IGN the program installs goes straight to the kernel
// and ours is gone; a query where ours is installed reads SIG_DFL (with the flags and mask the
// program last gave SIG_DFL, none at first); SIG_DFL set again brings ours back. The program's signal
// mask is never touched. sigset(), sigignore() and a raw rt_sigaction syscall are not seen: they
// replace ours (the trace is then written at exit only) and a query through sigset() can name it.
//
// The handler runs with SA_RESETHAND and SA_NODEFER: a second one of the same signal during the
// write finds the default action and kills at once; another fatal signal finds the write claimed and
// kills by itself (a fault in the writer itself kills by the signal it was writing for).
// SA_ONSTACK: on a thread with an alternate stack it runs there (the only way a stack overflow's
// SIGSEGV is seen at all; on a thread without one, the kernel kills at once, with no trace, as
// without record). Since an alternate stack may be small, the writer always runs on a stack of its
// own, mapped at that moment and unmapped after (the current one if the mapping fails).
//
// The runtime's lock: a thread interrupted inside the runtime may hold it, so the handler waits for
// it a bounded time (none when this thread is inside the runtime), then reads without it; every field
// is published in an order that keeps such a read consistent, at worst with a few counts of a thread
// merging at that moment counted twice; the trace's "end" says "locked": false.
//
// Exec. execve and the rest of the family (execv, execvp, execvpe, execl, execlp, execle, fexecve,
// execveat) write the trace first, under a name of its own (FILE.<pid>.<n>, signals.hpp), then call
// the real function; if it fails the image goes on, that file is removed, and the trace is written at
// exit under the image's usual name. A vfork child (or any process sharing our memory under another
// pid) writes nothing: its memory is its parent's.
#include "signals.hpp"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "enforce.hpp"
#include "state.hpp"

#define SMPLOCK_EXPORT extern "C" __attribute__((visibility("default")))

namespace smplock::record {
namespace {

constexpr int kFatal[] = {SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV, SIGXCPU, SIGXFSZ, SIGSYS,
                          SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGALRM};

bool handled(int sig) {
  for (int s : kFatal)
    if (s == sig) return true;
  return false;
}

// --- the real functions (resolved at load, or on first use if a call comes earlier) --------------

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
using SignalFn = sighandler_t (*)(int, sighandler_t);

template <typename F>
F resolve(std::atomic<F>& slot, const char* name) {
  F f = slot.load(std::memory_order_acquire);
  if (__builtin_expect(f == nullptr, 0)) {
    f = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
    slot.store(f, std::memory_order_release);
  }
  return f;
}

std::atomic<SigactionFn> g_sigaction{nullptr};
std::atomic<SignalFn> g_signal{nullptr}, g_sysv_signal{nullptr};
SigactionFn real_sigaction() { return resolve(g_sigaction, "sigaction"); }

// --- state -----------------------------------------------------------------------------------------

bool g_armed = false;  // handlers installed (recording, runtime started, not turned off)
// Per signal, what a query is shown where our handler is installed: the program's last SIG_DFL.
struct sigaction g_shown[_NSIG];

// The one-writer rule: 0 nobody writes, 1 someone writes (g_writer, for g_writer_signal, 0 at exit
// and exec), 2 written for good (exit or a fatal signal).
std::atomic<int> g_state{0};
std::atomic<pid_t> g_writer{0};
std::atomic<int> g_writer_signal{0};
// The pid whose memory this is (set at load and in a forked child): another pid here is a vfork
// child or alike, which shares its parent's memory and must not write or claim.
std::atomic<pid_t> g_image_pid{0};

// A thread interrupted in the runtime's own cold path may hold its lock for good; other holders
// let go within microseconds.
constexpr std::uint64_t kLockWaitNs = 200'000'000;
constexpr std::size_t kWriterStack = 256u << 10;

pid_t tid() { return static_cast<pid_t>(syscall(SYS_gettid)); }

void on_fatal(int sig, siginfo_t* info, void*);

bool is_ours(const struct sigaction& k) {
  return (k.sa_flags & SA_SIGINFO) != 0 && k.sa_sigaction == on_fatal;
}

struct sigaction our_action() {
  struct sigaction a;
  std::memset(&a, 0, sizeof a);
  a.sa_sigaction = on_fatal;
  a.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
  // Nothing else of the program's runs inside the write; any fatal signal still gets through.
  sigfillset(&a.sa_mask);
  for (int s : kFatal) sigdelset(&a.sa_mask, s);
  return a;
}

void set_default(int sig) {
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  if (SigactionFn f = real_sigaction()) f(sig, &dfl, nullptr);
}

// Dies of `sig` on this thread, with the default action: delivered at once (the handler does not
// block it), or when the handler returns.
void die_of(int sig) {
  set_default(sig);
  syscall(SYS_tgkill, getpid(), tid(), sig);
  // Only reached if `sig` is blocked here (it cannot be, for a signal that reached the handler):
  // the process is dying, so its mask no longer matters.
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  pthread_sigmask(SIG_UNBLOCK, &s, nullptr);
}

// A fault the faulting instruction raises again when it re-runs (its core shows the fault itself).
bool refaults(int sig, const siginfo_t* info) {
  return (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE) && info != nullptr && info->si_code > 0;
}

// --- the writer, on a stack of its own -------------------------------------------------------------

struct Job {
  int sig;
  std::uint64_t wait_ns;
};
Job g_job;
ucontext_t g_back, g_writer_ctx;

void run_job() { emit_trace(End::Signal, g_job.sig, g_job.wait_ns, nullptr); }

void write_for_signal(int sig) {
  g_job = {sig, inside_runtime() ? 0 : kLockWaitNs};
  // One guard page below the stack, so an overrun faults instead of writing over a neighbour.
  constexpr std::size_t kGuard = 4096;
  void* map = mmap(nullptr, kWriterStack + kGuard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
  if (map == MAP_FAILED || mprotect(map, kGuard, PROT_NONE) != 0 || getcontext(&g_writer_ctx) != 0) {
    if (map != MAP_FAILED) munmap(map, kWriterStack + kGuard);
    run_job();
    return;
  }
  g_writer_ctx.uc_stack.ss_sp = static_cast<char*>(map) + kGuard;
  g_writer_ctx.uc_stack.ss_size = kWriterStack;
  g_writer_ctx.uc_link = &g_back;
  makecontext(&g_writer_ctx, run_job, 0);
  swapcontext(&g_back, &g_writer_ctx);
  munmap(map, kWriterStack + kGuard);
}

void on_fatal(int sig, siginfo_t* info, void*) {
  const int saved_errno = errno;
  if (getpid() == g_image_pid.load(std::memory_order_relaxed)) {
    int expected = 0;
    if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      g_writer.store(tid(), std::memory_order_relaxed);
      g_writer_signal.store(sig, std::memory_order_relaxed);
      write_for_signal(sig);
      g_state.store(2, std::memory_order_release);
    } else if (expected == 1 && g_writer.load(std::memory_order_relaxed) == tid() && refaults(sig, info)) {
      // A fault in the write itself (this thread is the writer): die of the signal it was writing
      // for. A signal sent from outside during the write kills by itself, below.
      const int first = g_writer_signal.load(std::memory_order_relaxed);
      if (first != 0 && first != sig) die_of(first);
    }
  }
  if (refaults(sig, info)) {
    set_default(sig);
  } else {
    die_of(sig);
  }
  errno = saved_errno;
}

// --- dispositions the program sets and reads ------------------------------------------------------

int sigaction_impl(int sig, const struct sigaction* act, struct sigaction* old) {
  SigactionFn real = real_sigaction();
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  if (!g_armed || sig <= 0 || sig >= _NSIG || !handled(sig)) return real(sig, act, old);
  struct sigaction ours, kernel;
  const struct sigaction* give = act;
  const struct sigaction before = g_shown[sig];
  if (act != nullptr && act->sa_handler == SIG_DFL) {
    g_shown[sig] = *act;  // read before `old` is written: they may be the same struct
    ours = our_action();
    give = &ours;
  }
  const int r = real(sig, give, &kernel);
  if (r == 0 && old != nullptr) *old = is_ours(kernel) ? before : kernel;
  return r;
}

// The previous handler as signal() returns it: ours reads SIG_DFL.
sighandler_t shown_handler(sighandler_t h) {
  return reinterpret_cast<void*>(h) == reinterpret_cast<void*>(on_fatal) ? SIG_DFL : h;
}

// signal(sig, SIG_DFL) on a handled signal: ours instead, with the flags the call would have set.
sighandler_t default_back(int sig, int flags, bool mask_self) {
  struct sigaction a, old;
  std::memset(&a, 0, sizeof a);
  a.sa_handler = SIG_DFL;
  sigemptyset(&a.sa_mask);
  if (mask_self) sigaddset(&a.sa_mask, sig);
  a.sa_flags = flags;
  if (sigaction_impl(sig, &a, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

sighandler_t signal_impl(int sig, sighandler_t h) {
  if (g_armed && h == SIG_DFL && sig > 0 && sig < _NSIG && handled(sig)) return default_back(sig, SA_RESTART, true);
  SignalFn real = resolve(g_signal, "signal");
  if (real == nullptr) return SIG_ERR;
  return shown_handler(real(sig, h));
}

// --- exec ------------------------------------------------------------------------------------------

struct ExecNote {
  bool wrote = false;
  char path[kPathCap];
};

void before_exec(ExecNote& n) {
  if (!g_recording || getpid() != g_image_pid.load(std::memory_order_relaxed)) return;
  if (!claim_trace(0)) return;
  n.wrote = emit_trace(End::Exec, 0, kWaitForever, n.path);
  release_trace(false);
}

// The exec failed and the image goes on: its trace will be written at exit, under its usual name.
void after_failed_exec(const ExecNote& n) {
  if (!n.wrote) return;
  const int e = errno;
  unlink(n.path);
  errno = e;
}

template <typename F>
F real_exec(std::atomic<F>& slot, const char* name) {
  return resolve(slot, name);
}

using ExecveFn = int (*)(const char*, char* const*, char* const*);
using ExecvFn = int (*)(const char*, char* const*);
using FexecveFn = int (*)(int, char* const*, char* const*);
using ExecveatFn = int (*)(int, const char*, char* const*, char* const*, int);
std::atomic<ExecveFn> g_execve{nullptr}, g_execvpe{nullptr};
std::atomic<ExecvFn> g_execv{nullptr}, g_execvp{nullptr};
std::atomic<FexecveFn> g_fexecve{nullptr};
std::atomic<ExecveatFn> g_execveat{nullptr};

// Writes the trace, runs the real call (which returns only on failure), and undoes the trace's name.
template <typename F, typename... A>
int traced_exec(F real, A... args) {
  if (real == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  ExecNote n;
  before_exec(n);
  const int r = real(args...);
  after_failed_exec(n);
  return r;
}

void fork_child() {
  g_image_pid.store(getpid(), std::memory_order_relaxed);
  g_state.store(0, std::memory_order_relaxed);  // a write in progress in the parent is not this one's
}

}  // namespace

// --- the one-writer rule ---------------------------------------------------------------------------

bool claim_trace(int signal) {
  int expected = 0;
  if (!g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return false;
  g_writer.store(tid(), std::memory_order_relaxed);
  g_writer_signal.store(signal, std::memory_order_relaxed);
  return true;
}

void release_trace(bool final) { g_state.store(final ? 2 : 0, std::memory_order_release); }

void start_signals() {
  g_image_pid.store(getpid(), std::memory_order_relaxed);
  pthread_atfork(nullptr, nullptr, fork_child);
  real_sigaction();
  resolve(g_signal, "signal");
  if (!g_recording || g_classes == nullptr) return;
  const char* off = getenv("SMPLOCK_RECORD_SIGNALS");
  if (off != nullptr && std::strcmp(off, "0") == 0) return;
  SigactionFn real = real_sigaction();
  if (real == nullptr) return;
  const struct sigaction ours = our_action();
  for (int sig : kFatal) {
    struct sigaction cur;
    if (real(sig, nullptr, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) != 0 || cur.sa_handler != SIG_DFL) continue;
    g_shown[sig] = cur;
    real(sig, &ours, nullptr);
  }
  g_armed = true;
}

}  // namespace smplock::record

using namespace smplock::record;

SMPLOCK_EXPORT int sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
  return sigaction_impl(sig, act, old);
}
SMPLOCK_EXPORT int __sigaction(int sig, const struct sigaction* act, struct sigaction* old) noexcept {
  return sigaction_impl(sig, act, old);
}
SMPLOCK_EXPORT sighandler_t signal(int sig, sighandler_t h) noexcept { return signal_impl(sig, h); }
SMPLOCK_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h) noexcept { return signal_impl(sig, h); }
SMPLOCK_EXPORT sighandler_t ssignal(int sig, sighandler_t h) noexcept { return signal_impl(sig, h); }

// System V semantics: the handler is reset on delivery and does not block its own signal.
static sighandler_t sysv_impl(int sig, sighandler_t h) {
  if (g_armed && h == SIG_DFL && sig > 0 && sig < _NSIG && handled(sig))
    return default_back(sig, SA_RESETHAND | SA_NODEFER, false);
  SignalFn real = resolve(g_sysv_signal, "sysv_signal");
  if (real == nullptr) return SIG_ERR;
  return shown_handler(real(sig, h));
}
SMPLOCK_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h) noexcept { return sysv_impl(sig, h); }
SMPLOCK_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h) noexcept { return sysv_impl(sig, h); }

SMPLOCK_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) noexcept {
  return traced_exec(real_exec(g_execve, "execve"), path, argv, envp);
}
SMPLOCK_EXPORT int execv(const char* path, char* const argv[]) noexcept {
  return traced_exec(real_exec(g_execv, "execv"), path, argv);
}
SMPLOCK_EXPORT int execvp(const char* file, char* const argv[]) noexcept {
  return traced_exec(real_exec(g_execvp, "execvp"), file, argv);
}
SMPLOCK_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) noexcept {
  return traced_exec(real_exec(g_execvpe, "execvpe"), file, argv, envp);
}
SMPLOCK_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) noexcept {
  return traced_exec(real_exec(g_fexecve, "fexecve"), fd, argv, envp);
}
SMPLOCK_EXPORT int execveat(int dirfd, const char* path, char* const argv[], char* const envp[], int flags) noexcept {
  return traced_exec(real_exec(g_execveat, "execveat"), dirfd, path, argv, envp, flags);
}

// The list forms: their arguments into an array on the stack (as glibc does), then the vector form.
#define SMPLOCK_LIST_ARGV(first, ap, argv, after)                     \
  std::size_t n_ = 1;                                                 \
  va_start(ap, first);                                                \
  while (va_arg(ap, const char*) != nullptr) ++n_;                    \
  va_end(ap);                                                         \
  const char* argv[n_ + 1];                                           \
  argv[0] = first;                                                    \
  va_start(ap, first);                                                \
  for (std::size_t i_ = 1; i_ <= n_; ++i_) argv[i_] = va_arg(ap, const char*); \
  after;                                                              \
  va_end(ap)

SMPLOCK_EXPORT int execl(const char* path, const char* arg, ...) noexcept {
  va_list ap;
  SMPLOCK_LIST_ARGV(arg, ap, argv, (void)0);
  return traced_exec(real_exec(g_execve, "execve"), path, const_cast<char* const*>(argv),
                     static_cast<char* const*>(environ));
}
SMPLOCK_EXPORT int execlp(const char* file, const char* arg, ...) noexcept {
  va_list ap;
  SMPLOCK_LIST_ARGV(arg, ap, argv, (void)0);
  return traced_exec(real_exec(g_execvp, "execvp"), file, const_cast<char* const*>(argv));
}
SMPLOCK_EXPORT int execle(const char* path, const char* arg, ...) noexcept {
  va_list ap;
  char* const* envp = nullptr;
  SMPLOCK_LIST_ARGV(arg, ap, argv, envp = va_arg(ap, char* const*));
  return traced_exec(real_exec(g_execve, "execve"), path, const_cast<char* const*>(argv), envp);
}
