// bench/stores_bench.cpp: why the uncontended pair costs what it does (issue 7's evidence).
//
// A locked instruction (the acquire's CAS, or xchg) does not complete until every store before it
// has left the store buffer. In a loop of acquire+release pairs, every store one pair makes sits
// between two locked instructions, so its cost shows up in full even though no load depends on it.
// This program measures exactly that, with nothing of the library in it: a plain test-and-test-and-
// set pair (the floor of DESIGN §10) plus N plain 8-byte stores to lines this thread owns, for N =
// 0..10, and the same N stores with no locked instruction at all, for comparison. Our release and
// acquire make 7 stores between two CASes (the level twice, the held-lock record's key twice and its
// call site, the class counter, and the word itself), where the floor makes 1.
#include <benchmark/benchmark.h>

#include <atomic>
#include <iterator>
#include <cstdint>
#include <utility>

namespace {

struct alignas(64) Lines {
  std::uint64_t a[8];   // one line: like the CPU record's level and held-lock slot
  std::uint64_t b[8];   // another: like the class counter
};

std::atomic<std::uint32_t> g_word{0};
Lines g_lines;

// N stores, unrolled at compile time, alternating between the two lines, each to a distinct word
// (no store merges with the one before); the asm keeps the compiler from folding or dropping them.
template <unsigned I>
[[gnu::always_inline]] inline void store_one(std::uint64_t v) {
  std::uint64_t& slot = (I & 1) ? g_lines.b[I >> 1] : g_lines.a[I >> 1];
  asm volatile("movq %1, %0" : "=m"(slot) : "r"(v));
}

template <unsigned N>
[[gnu::always_inline]] inline void stores(std::uint64_t v) {
  [&]<unsigned... I>(std::integer_sequence<unsigned, I...>) { (store_one<I>(v), ...); }(
      std::make_integer_sequence<unsigned, N>{});
}

template <unsigned N>
void BM_TtasPlusStores(benchmark::State& state) {
  std::uint64_t v = 1;
  for (auto _ : state) {
    while (g_word.exchange(1, std::memory_order_acquire) != 0) {
    }
    stores<N>(v);
    g_word.store(0, std::memory_order_release);
    ++v;
  }
}

// The same with the acquire a CAS (0 -> 1), as ours is (an exchange would overwrite a holder's tag).
template <unsigned N>
void BM_CasPlusStores(benchmark::State& state) {
  std::uint64_t v = 1;
  for (auto _ : state) {
    std::uint32_t expected = 0;
    while (!g_word.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      expected = 0;
    stores<N>(v);
    g_word.store(0, std::memory_order_release);
    ++v;
  }
}

// A chain of N dependent loads between the acquire and the release (each load's address comes from
// the one before, as the CPU record's address comes from the thread pointer and the held-lock slot's
// from the CPU record): the loads cannot start before the locked instruction completes.
struct alignas(64) Link {
  Link* next;
};
Link g_links[12];

template <unsigned N>
void BM_TtasPlusDependentLoads(benchmark::State& state) {
  for (unsigned i = 0; i + 1 < std::size(g_links); ++i) g_links[i].next = &g_links[i + 1];
  for (auto _ : state) {
    while (g_word.exchange(1, std::memory_order_acquire) != 0) {
    }
    Link* p = &g_links[0];
    for (unsigned i = 0; i < N; ++i) {
      asm volatile("" : "+r"(p));
      p = p->next;
    }
    benchmark::DoNotOptimize(p);
    g_word.store(0, std::memory_order_release);
  }
}

template <unsigned N>
void BM_StoresOnly(benchmark::State& state) {
  std::uint64_t v = 1;
  for (auto _ : state) {
    stores<N>(v);
    ++v;
  }
}

BENCHMARK_TEMPLATE(BM_TtasPlusStores, 0);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 1);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 2);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 3);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 4);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 5);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 6);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 8);
BENCHMARK_TEMPLATE(BM_TtasPlusStores, 10);
BENCHMARK_TEMPLATE(BM_CasPlusStores, 0);
BENCHMARK_TEMPLATE(BM_CasPlusStores, 6);
BENCHMARK_TEMPLATE(BM_TtasPlusDependentLoads, 0);
BENCHMARK_TEMPLATE(BM_TtasPlusDependentLoads, 1);
BENCHMARK_TEMPLATE(BM_TtasPlusDependentLoads, 2);
BENCHMARK_TEMPLATE(BM_TtasPlusDependentLoads, 3);
BENCHMARK_TEMPLATE(BM_TtasPlusDependentLoads, 4);
BENCHMARK_TEMPLATE(BM_StoresOnly, 2);
BENCHMARK_TEMPLATE(BM_StoresOnly, 6);
BENCHMARK_TEMPLATE(BM_StoresOnly, 10);

}  // namespace

BENCHMARK_MAIN();
