// bench/alloc/smoke/standin.cpp: a tiny stand-in for mimalloc-bench's programs, so ctest can drive
// bench/alloc/run.sh and table.py end to end without a checkout of that suite (bench/parts/alloc.cmake
// copies it into a scratch bin dir under the suite's program names). It does a fixed amount of
// allocator work (small blocks freed by their own thread, blocks freed by another thread, large blocks
// grown with realloc) and prints output that is the same under every allocator, so run.sh's output
// comparison with glibc has something to compare:
//
//   standin: <threads> threads        (argv[1], default 2: run.sh passes "2" as glibc-thread)
//   checksum: <hex>                   (of the bytes written, never of addresses)
//   <n> iterations                    (the figure run.sh reads for glibc-thread)
//   time: <t> ms                      (varies; run.sh masks it)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

namespace {

constexpr int kSmallRounds = 400000;   // small malloc/free pairs per thread
constexpr int kHandOff = 2000;        // blocks each thread leaves for main to free
constexpr int kLargeBlocks = 32;      // large blocks per thread, each grown by realloc

// A fixed pseudo-random sequence per thread (no shared state, no dependence on scheduling).
std::uint32_t next(std::uint32_t& s) {
  s = s * 1664525u + 1013904223u;
  return s >> 8;
}

// Sums bytes the thread wrote, so a broken allocator (overlapping or truncated blocks) changes it.
struct Work {
  std::uint64_t sum = 0;
  std::uint64_t ops = 0;
  std::vector<unsigned char*> left;  // freed by main after join: cross-thread frees
};

void fill(unsigned char* p, std::size_t n, std::uint32_t tag) {
  std::memset(p, static_cast<int>(tag & 0xff), n);
}

void run(Work& w, std::uint32_t seed) {
  std::uint32_t s = seed;
  for (int i = 0; i < kSmallRounds; ++i) {
    std::size_t n = 8 + next(s) % 1024;
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    if (p == nullptr) std::abort();
    fill(p, n, i);
    w.sum += p[n - 1] + n;
    std::free(p);
    ++w.ops;
  }
  for (int i = 0; i < kHandOff; ++i) {
    std::size_t n = 16 + next(s) % 256;
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    if (p == nullptr) std::abort();
    fill(p, n, seed + i);
    w.left.push_back(p);
    ++w.ops;
  }
  for (int i = 0; i < kLargeBlocks; ++i) {
    std::size_t n = (1u << 20) + next(s) % (1u << 20);  // 1-2 MiB: above glibc's mmap threshold
    auto* p = static_cast<unsigned char*>(std::malloc(n));
    if (p == nullptr) std::abort();
    fill(p, n, i + 1);
    auto* q = static_cast<unsigned char*>(std::realloc(p, 2 * n));
    if (q == nullptr) std::abort();
    fill(q + n, n, i + 2);
    w.sum += q[0] + q[n - 1] + q[2 * n - 1];
    std::free(q);
    w.ops += 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  if (threads < 1 || threads > 64) {
    std::fprintf(stderr, "usage: %s [threads 1-64]\n", argv[0]);
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Work> work(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(run, std::ref(work[t]), 12345u + t);
  for (auto& th : pool) th.join();
  std::uint64_t sum = 0, ops = 0;
  for (auto& w : work) {
    for (unsigned char* p : w.left) {
      sum += p[0];
      std::free(p);
    }
    sum += w.sum;
    ops += w.ops;
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("standin: %d threads\nchecksum: %llx\n%llu iterations\ntime: %.1f ms\n", threads,
              static_cast<unsigned long long>(sum), static_cast<unsigned long long>(ops), ms);
  return 0;
}
