// A program's own signal handler that allocates (issue 11: glibc tolerates it, so does the
// preload library). The main thread allocates and frees in a loop; another thread signals it, one
// signal at a time (it waits for the handler to finish before the next: a hand-shake, no sleep),
// and the handler allocates blocks of every kind (small, page-heap, huge), checks them, frees them,
// and frees a block the main loop allocated. A signal that lands while the main thread is inside
// the pool finds the CPU raised to NP: that used to abort with R8. The handler tells those calls
// by their blocks (a mapping of its own: usable size of a page or more for 24 bytes) and the run
// goes on until it has seen kWantNested of them or sent kMaxSignals.
// Run under LD_PRELOAD=libsmplock-malloc.so; exit status 0 when every check holds.
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "on_shim.hpp"

namespace {

constexpr int kWantNested = 20;
constexpr int kMaxSignals = 5000;  // each waits for the last: bounded even on a loaded machine
constexpr std::size_t kSizes[] = {24, 700, 5000, 200000, std::size_t{6} << 20};

std::atomic<int> g_handled{0};
std::atomic<int> g_nested{0};
std::atomic<int> g_bad{0};
std::atomic<bool> g_done{false};
std::atomic<void*> g_handoff{nullptr};  // a block of the main loop's, for the handler to free
pthread_t g_main;

void handler(int) {
  const int saved = errno;
  for (std::size_t n : kSizes) {
    auto* p = static_cast<unsigned char*>(malloc(n));
    if (p == nullptr) {
      g_bad.fetch_add(1);
      continue;
    }
    if (n == 24 && malloc_usable_size(p) >= 4096) g_nested.fetch_add(1);
    p[0] = 1;
    p[n - 1] = 2;
    if (p[0] != 1 || p[n - 1] != 2 || malloc_usable_size(p) < n) g_bad.fetch_add(1);
    free(p);
  }
  free(g_handoff.exchange(nullptr));
  errno = saved;
  g_handled.fetch_add(1, std::memory_order_release);
}

void* sender(void*) {
  for (int i = 0; i < kMaxSignals && g_nested.load() < kWantNested; ++i) {
    pthread_kill(g_main, SIGUSR1);
    while (g_handled.load(std::memory_order_acquire) <= i) sched_yield();
  }
  g_done.store(true);
  return nullptr;
}

}  // namespace

int main() {
  if (!on_shim()) return 2;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, nullptr);
  g_main = pthread_self();
  pthread_t t;
  pthread_create(&t, nullptr, sender, nullptr);
  unsigned i = 0;
  while (!g_done.load(std::memory_order_relaxed)) {
    const std::size_t n = kSizes[i++ % 4];  // small and page-heap blocks in the loop
    auto* p = static_cast<unsigned char*>(malloc(n));
    auto* q = static_cast<unsigned char*>(calloc(1, n));
    if (p == nullptr || q == nullptr || q[n - 1] != 0) g_bad.fetch_add(1);
    p[0] = 3;
    free(g_handoff.exchange(q));
    free(p);
  }
  pthread_join(t, nullptr);
  free(g_handoff.exchange(nullptr));
  std::printf("%d signals handled, %d of them inside the pool\n", g_handled.load(), g_nested.load());
  if (g_bad.load() != 0) {
    std::fprintf(stderr, "%d bad blocks\n", g_bad.load());
    return 1;
  }
  return 0;
}
