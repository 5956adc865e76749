// More threads than CPU indices ever were (issue 11, defect 4, the pool's side), under the
// preload library: 300 threads, all live at once (a barrier holds them), each allocating and
// checking blocks of several sizes; then a parent with 200 live threads forks, and the child
// makes 200 threads of its own that do the same. glibc runs both; the preload once aborted with
// "more CPUs than SMPLOCK_MAX_CPUS are attached" (the child at its 57th thread).
// Run under LD_PRELOAD=libsmplock-malloc.so; exit status 0 when every check holds.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <vector>

#include "on_shim.hpp"

namespace {

// Blocks per thread: small ones of three classes, page-heap ones (about 140 KiB a thread).
constexpr std::size_t kSizes[] = {16, 100, 1500, 20000, 100000};
constexpr int kPerSize[] = {8, 8, 8, 2, 1};

std::atomic<int> g_bad{0};

struct Group {
  pthread_barrier_t all_live;  // every thread holds its blocks at once
  pthread_barrier_t release;   // used by the forking parent: its threads stay live over fork()
  bool wait_release = false;
};

void* worker(void* arg) {
  auto* g = static_cast<Group*>(arg);
  std::vector<unsigned char*> blocks;
  const auto seed = static_cast<unsigned char>(reinterpret_cast<std::uintptr_t>(&blocks) >> 4);
  for (std::size_t s = 0; s < std::size(kSizes); ++s)
    for (int i = 0; i < kPerSize[s]; ++i) {
      const std::size_t size = kSizes[s];
      auto* p = static_cast<unsigned char*>(malloc(size));
      if (p == nullptr) {
        g_bad.fetch_add(1);
        continue;
      }
      std::memset(p, seed + i, size);
      blocks.push_back(p);
    }
  pthread_barrier_wait(&g->all_live);
  std::size_t k = 0;
  for (std::size_t s = 0; s < std::size(kSizes); ++s)
    for (int i = 0; i < kPerSize[s]; ++i, ++k) {
      const std::size_t size = kSizes[s];
      if (k >= blocks.size()) break;
      unsigned char* p = blocks[k];
      for (std::size_t j = 0; j < size; j += 61)
        if (p[j] != static_cast<unsigned char>(seed + i)) {
          g_bad.fetch_add(1);
          break;
        }
    }
  if (g->wait_release) pthread_barrier_wait(&g->release);
  for (unsigned char* p : blocks) free(p);
  return nullptr;
}

// Starts n threads on `g` (the caller makes n + 1 the barriers' count). False if one cannot start.
bool start(int n, Group& g, std::vector<pthread_t>& out) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  for (int i = 0; i < n; ++i) {
    pthread_t t;
    if (pthread_create(&t, &attr, worker, &g) != 0) {
      std::fprintf(stderr, "pthread_create failed at thread %d\n", i);
      return false;
    }
    out.push_back(t);
  }
  pthread_attr_destroy(&attr);
  return true;
}

// n live threads, joined. True when every block held its contents.
bool run_group(int n) {
  Group g;
  pthread_barrier_init(&g.all_live, nullptr, n + 1);
  std::vector<pthread_t> threads;
  if (!start(n, g, threads)) std::exit(3);
  pthread_barrier_wait(&g.all_live);
  for (pthread_t t : threads) pthread_join(t, nullptr);
  pthread_barrier_destroy(&g.all_live);
  return g_bad.load() == 0;
}

}  // namespace

int main() {
  if (!on_shim()) return 2;
  if (!run_group(300)) {
    std::fprintf(stderr, "300 live threads: %d bad blocks\n", g_bad.load());
    return 1;
  }
  // A parent with 200 live threads (they hold blocks and wait), forking.
  Group parent;
  parent.wait_release = true;
  pthread_barrier_init(&parent.all_live, nullptr, 201);
  pthread_barrier_init(&parent.release, nullptr, 201);
  std::vector<pthread_t> threads;
  if (!start(200, parent, threads)) return 3;
  pthread_barrier_wait(&parent.all_live);  // all 200 have allocated and are live
  const pid_t child = fork();
  if (child == 0) {
    // The child: one thread (this one), then 200 of its own, all live at once.
    void* p = malloc(1000);
    const bool ok = p != nullptr && run_group(200);
    free(p);
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  const bool forked = child > 0 && waitpid(child, &status, 0) == child;
  pthread_barrier_wait(&parent.release);
  for (pthread_t t : threads) pthread_join(t, nullptr);
  if (!forked || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "the child of a 200-thread parent failed (status %#x)\n", status);
    return 1;
  }
  if (g_bad.load() != 0) {
    std::fprintf(stderr, "the 200-thread parent: %d bad blocks\n", g_bad.load());
    return 1;
  }
  std::printf("300 live threads, and a child of a 200-thread parent with 200 threads: ok\n");
  return 0;
}
