// tests/embed/signals_untouched.cpp: a program that uses smplock's locks and pool but never its
// interrupts (issue 11, defect 2). Its signal disposition and every thread's signal mask must stay
// exactly as the program set them, and a process-directed SIGURG it waits for with sigtimedwait
// must reach it. Run as is and, in builds with the drop-in allocator, under LD_PRELOAD.
//
// The program blocks SIGURG before it makes any thread (so every thread inherits the block), uses
// locks and the pool on the main thread and on four more, then checks. Before the fix, the first
// attach installed smplock's handler and unblocked the signal on every attaching thread: the
// signal then went to that handler and was lost. Exit status 0 only when every check holds.
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "smplock/smplock.hpp"

namespace {

int g_failures = 0;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "signals_untouched: FAILED: %s\n", what);
  ++g_failures;
}

sigset_t current_mask() {
  sigset_t m;
  pthread_sigmask(SIG_BLOCK, nullptr, &m);
  return m;
}

bool same_mask(const sigset_t& a, const sigset_t& b) {
  for (int s = 1; s < SIGRTMAX; ++s)
    if (sigismember(&a, s) != sigismember(&b, s)) return false;
  return true;
}

smplock::Lock g_state(smplock::Level::PS, "embed state");
smplock::Lock g_queue(smplock::Level::TC, "embed queue");

// What a plain user of smplock does: nested locks and pool blocks.
void use_locks_and_pool(int rounds) {
  for (int i = 0; i < rounds; ++i) {
    smplock::Guard a(g_state);
    smplock::Guard b(g_queue);
    void* p = smplock::npp::malloc(64 + static_cast<std::size_t>(i % 500));
    std::memset(p, i, 64);
    smplock::npp::free(p);
  }
  std::vector<int> v(100);  // the C allocator too (the pool itself under the preload)
  v[3] = 1;
}

}  // namespace

int main() {
  sigset_t urg;
  sigemptyset(&urg);
  sigaddset(&urg, SIGURG);
  pthread_sigmask(SIG_BLOCK, &urg, nullptr);
  const sigset_t mask0 = current_mask();
  struct sigaction act0 {};
  sigaction(SIGURG, nullptr, &act0);

  use_locks_and_pool(1000);
  check(same_mask(current_mask(), mask0), "the main thread's signal mask changed");

  std::atomic<int> masks_kept{0};
  std::atomic<int> ready{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      use_locks_and_pool(2000);
      if (same_mask(current_mask(), mask0)) masks_kept.fetch_add(1);
      ready.fetch_add(1);
      // Stay alive (and attached) while the signal is sent: a thread that had it unblocked
      // would take it.
      while (!done.load()) std::this_thread::yield();
    });
  while (ready.load() != 4) std::this_thread::yield();
  check(masks_kept.load() == 4, "a thread's signal mask changed");

  struct sigaction act {};
  sigaction(SIGURG, nullptr, &act);
  check(act.sa_handler == act0.sa_handler && act.sa_flags == act0.sa_flags,
        "SIGURG's disposition changed (a handler the program never installed)");

  kill(getpid(), SIGURG);
  const timespec limit{30, 0};  // a bound for an event that must happen, not a timing check
  siginfo_t info{};
  const int got = sigtimedwait(&urg, &info, &limit);
  check(got == SIGURG, "the program's own sigtimedwait did not receive its SIGURG");

  done.store(true);
  for (std::thread& t : threads) t.join();
  check(smplock::cpus_attached() == 1, "cpus_attached() is not 1 once the threads ended");
  if (g_failures == 0) std::puts("signals_untouched: ok");
  return g_failures == 0 ? 0 : 1;
}
