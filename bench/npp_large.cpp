// bench/npp_large.cpp: a standalone reproduction of mimalloc-bench's malloc-large pattern (issue 16),
// written for this project: each thread keeps 20 buffers of 5..25 MiB, and on every iteration
// replaces a random one with a new buffer of a random size, zero-filled as `new char[n]()` does
// (allocate the new one, fill it, then free the old one). Mode `realloc` instead resizes the chosen
// buffer with realloc and fills only what it gained. Meant to run under LD_PRELOAD of each allocator
// beside /usr/bin/time (system time, minor faults, peak RSS); allocator-neutral C calls only.
//
//   bench_npp_large [iterations=2000] [threads=1] [alloc|realloc]
// Prints a checksum of the buffers' first bytes so the work cannot be optimised away.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

namespace {

constexpr int kBuffers = 20;
constexpr std::size_t kMin = std::size_t{5} << 20;
constexpr std::size_t kMax = std::size_t{25} << 20;

unsigned long run(int iterations, unsigned seed, bool use_realloc) {
  char* buf[kBuffers] = {};
  std::size_t len[kBuffers] = {};
  std::mt19937 gen(seed);
  std::uniform_int_distribution<std::size_t> size_of(kMin, kMax);
  std::uniform_int_distribution<int> index_of(0, kBuffers - 1);
  unsigned long sum = 0;
  for (int i = 0; i < iterations; ++i) {
    const int k = index_of(gen);
    const std::size_t n = size_of(gen);
    if (use_realloc) {
      char* p = static_cast<char*>(std::realloc(buf[k], n));
      if (p == nullptr) std::abort();
      if (n > len[k]) std::memset(p + len[k], static_cast<int>(i & 0x7F), n - len[k]);
      buf[k] = p;
    } else {
      // As std::make_unique<char[]>(n): operator new (malloc through the C++ runtime) and a
      // zero fill the compiler cannot fold into calloc.
      char* p = new char[n]();
      p[0] = static_cast<char>(i);
      delete[] buf[k];
      buf[k] = p;
    }
    len[k] = n;
    sum += static_cast<unsigned char>(buf[k][0]) + static_cast<unsigned char>(buf[k][n - 1]);
  }
  for (char* p : buf) {
    if (use_realloc) std::free(p);
    else delete[] p;
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
  const bool use_realloc = argc > 3 && std::strcmp(argv[3], "realloc") == 0;
  std::vector<unsigned long> sums(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] { sums[static_cast<std::size_t>(t)] = run(iterations, 42u + static_cast<unsigned>(t), use_realloc); });
  for (auto& th : pool) th.join();
  unsigned long total = 0;
  for (unsigned long s : sums) total += s;
  std::printf("npp_large: %d iterations x %d threads (%s): checksum %lu\n", iterations, threads,
              use_realloc ? "realloc" : "alloc", total);
  return 0;
}
