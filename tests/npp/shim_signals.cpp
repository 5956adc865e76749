// The preload library leaves the program's signals alone (issue 11, defect 2, at the shim's
// level): after malloc and free in several threads, SIGURG's disposition and every thread's
// signal mask are as the program set them, and a process-directed SIGURG that the program blocks
// and waits for with sigtimedwait arrives (it was once taken by a handler the shim installed in a
// thread that had unblocked it, and lost).
// Run under LD_PRELOAD=libsmplock-malloc.so; exit status 0 when every check holds.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "on_shim.hpp"

namespace {

constexpr int kThreads = 6;
std::atomic<int> g_bad{0};
pthread_barrier_t g_live;     // threads have allocated and checked; still live
pthread_barrier_t g_release;  // the main thread has had its SIGURG

bool same_mask(const sigset_t& a, const sigset_t& b) {
  for (int s = 1; s < NSIG; ++s)
    if (sigismember(&a, s) != sigismember(&b, s)) return false;
  return true;
}

bool dfl_urg() {
  struct sigaction now;
  std::memset(&now, 0, sizeof now);
  sigaction(SIGURG, nullptr, &now);
  return now.sa_handler == SIG_DFL && (now.sa_flags & SA_SIGINFO) == 0;
}

// Allocates and frees in a few sizes; true if the mask and SIGURG's disposition did not change.
bool allocate_and_check() {
  sigset_t before, after;
  pthread_sigmask(SIG_SETMASK, nullptr, &before);
  for (int i = 0; i < 200; ++i) free(malloc(static_cast<std::size_t>(16 + i * 97)));
  void* big = malloc(5 << 20);
  free(big);
  pthread_sigmask(SIG_SETMASK, nullptr, &after);
  return same_mask(before, after) && sigismember(&after, SIGURG) && dfl_urg();
}

void* worker(void*) {
  if (!allocate_and_check()) g_bad.fetch_add(1);
  pthread_barrier_wait(&g_live);
  pthread_barrier_wait(&g_release);
  return nullptr;
}

}  // namespace

int main() {
  if (!on_shim()) return 2;
  // The program's own choice: SIGURG blocked everywhere (threads inherit the mask), default action.
  sigset_t urg;
  sigemptyset(&urg);
  sigaddset(&urg, SIGURG);
  pthread_sigmask(SIG_BLOCK, &urg, nullptr);
  pthread_barrier_init(&g_live, nullptr, kThreads + 1);
  pthread_barrier_init(&g_release, nullptr, kThreads + 1);
  std::vector<pthread_t> threads(kThreads);
  for (auto& t : threads) pthread_create(&t, nullptr, worker, nullptr);
  const bool main_ok = allocate_and_check();
  pthread_barrier_wait(&g_live);  // every thread has used malloc and is still live
  // A process-directed SIGURG: blocked in every thread, so it stays pending for sigtimedwait.
  kill(getpid(), SIGURG);
  const timespec limit{30, 0};  // a failure detector only: the signal is pending before the wait
  const int got = sigtimedwait(&urg, nullptr, &limit);
  pthread_barrier_wait(&g_release);
  for (pthread_t t : threads) pthread_join(t, nullptr);
  if (!main_ok || g_bad.load() != 0) {
    std::fprintf(stderr, "malloc changed a signal mask or SIGURG's disposition (%d of %d threads, main %s)\n",
                 g_bad.load(), kThreads, main_ok ? "ok" : "changed");
    return 1;
  }
  if (got != SIGURG) {
    std::fprintf(stderr, "the process-directed SIGURG never reached sigtimedwait\n");
    return 1;
  }
  std::printf("signal masks and SIGURG untouched; SIGURG arrived\n");
  return 0;
}
