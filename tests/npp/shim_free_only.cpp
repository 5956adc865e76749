// Threads that free but never allocate, under the preload library (issue 16, xmalloc-test's
// pattern). Such a thread's first frees go straight to the blocks' owners (stray frees); past a
// few dozen it becomes a CPU, as a malloc would make it, and frees through a cache of its own,
// which it hands back when it ends. Two checks, bounded in count:
//   - 300 short-lived threads one after another, each freeing 400 blocks the main thread made
//     (so each one attaches in a free, then ends with a cache to hand back);
//   - one producer (the main thread) and two free-only consumers running at once, 200,000 blocks
//     handed over through single-producer rings, every block's contents checked before its free.
// The main thread then allocates again what was freed. Run under LD_PRELOAD=libsmplock-malloc.so;
// exit status 0 when every check holds.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "on_shim.hpp"

namespace {

std::atomic<int> g_bad{0};

unsigned char pattern(std::size_t i) { return static_cast<unsigned char>(i * 131 + 7); }

unsigned char* make(std::size_t i) {
  const std::size_t size = 16 + (i * 53) % 900;
  auto* p = static_cast<unsigned char*>(malloc(size));
  if (p == nullptr) {
    g_bad.fetch_add(1);
    return nullptr;
  }
  std::memset(p, pattern(i), size);
  return p;
}

void check_and_free(unsigned char* p, std::size_t i) {
  if (p == nullptr) return;
  const std::size_t size = 16 + (i * 53) % 900;
  for (std::size_t j = 0; j < size; j += 7)
    if (p[j] != pattern(i)) {
      g_bad.fetch_add(1);
      break;
    }
  free(p);
}

// --- short-lived free-only threads ---

constexpr std::size_t kPerThread = 400;
unsigned char* g_batch[kPerThread];

void* free_batch(void*) {
  for (std::size_t i = 0; i < kPerThread; ++i) check_and_free(g_batch[i], i);
  return nullptr;
}

// --- producer and consumers ---

constexpr std::size_t kRing = 1024;  // a power of two
constexpr std::size_t kHandOver = 200000;
struct Ring {
  unsigned char* slot[kRing];
  std::atomic<std::size_t> head{0};  // written by the producer
  std::atomic<std::size_t> tail{0};  // written by the consumer
  std::size_t first = 0;             // the index of the ring's first block (its pattern)
  std::size_t step = 0;
};
Ring g_ring[2];

void* consume(void* arg) {
  Ring& r = *static_cast<Ring*>(arg);
  const std::size_t total = kHandOver / 2;
  for (std::size_t n = 0; n < total; ++n) {
    while (r.head.load(std::memory_order_acquire) == n) sched_yield();
    check_and_free(r.slot[n % kRing], r.first + n * r.step);
    r.tail.store(n + 1, std::memory_order_release);
  }
  return nullptr;
}

}  // namespace

int main() {
  if (!on_shim()) return 2;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int t = 0; t < 300; ++t) {
    for (std::size_t i = 0; i < kPerThread; ++i) g_batch[i] = make(i);
    pthread_t th;
    if (pthread_create(&th, &attr, free_batch, nullptr) != 0) return 3;
    pthread_join(th, nullptr);
  }
  for (int c = 0; c < 2; ++c) {
    g_ring[c].first = static_cast<std::size_t>(c);
    g_ring[c].step = 2;
  }
  pthread_t consumers[2];
  for (int c = 0; c < 2; ++c)
    if (pthread_create(&consumers[c], &attr, consume, &g_ring[c]) != 0) return 3;
  for (std::size_t i = 0; i < kHandOver; ++i) {
    Ring& r = g_ring[i % 2];
    const std::size_t n = i / 2;
    while (n - r.tail.load(std::memory_order_acquire) >= kRing) sched_yield();
    r.slot[n % kRing] = make(i);
    r.head.store(n + 1, std::memory_order_release);
  }
  for (pthread_t c : consumers) pthread_join(c, nullptr);
  pthread_attr_destroy(&attr);
  // What the consumers freed is allocated again (from the depot, the orphans or fresh slabs).
  for (std::size_t i = 0; i < kPerThread; ++i) g_batch[i] = make(i);
  for (std::size_t i = 0; i < kPerThread; ++i) check_and_free(g_batch[i], i);
  if (g_bad.load() != 0) {
    std::fprintf(stderr, "free-only threads: %d bad blocks\n", g_bad.load());
    return 1;
  }
  std::printf("300 free-only threads one after another, a producer and two free-only consumers: ok\n");
  return 0;
}
