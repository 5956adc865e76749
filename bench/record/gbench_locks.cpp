// The Google Benchmark loop of bench/results/record.md (issue 12): lock/unlock on pthread and
// std::mutex, and two nested locks (A then B, one order edge per iteration), with 1 and 2 threads.
// A plain program, not linked with smplock: bench/record/gbench.sh runs it bare, under
// `smplock record`, under the interposer alone, under TSan's LD_PRELOAD detector and under Helgrind,
// so every lock call here goes through the PLT where a preloaded library can see it.
#include <benchmark/benchmark.h>
#include <pthread.h>

#include <mutex>
#include <thread>

namespace {

// Shared by the threads of a run: with 2 threads the locks are contended, as a program's are.
pthread_mutex_t pair_lock = PTHREAD_MUTEX_INITIALIZER;
std::mutex std_lock;
pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
long counter;  // written under the lock, so the loop body is not empty

// One pthread_mutex_lock/unlock pair per iteration: the interposer's fast path (no edge).
void BM_PthreadPair(benchmark::State& state) {
  for (auto _ : state) {
    pthread_mutex_lock(&pair_lock);
    ++counter;
    pthread_mutex_unlock(&pair_lock);
  }
}

// std::mutex through std::lock_guard: libstdc++ calls pthread_mutex_lock/unlock underneath.
void BM_StdMutexGuard(benchmark::State& state) {
  for (auto _ : state) {
    std::lock_guard<std::mutex> guard(std_lock);
    ++counter;
  }
}

// A then B each iteration: the recorder sees the edge A -> B every time (counted, not re-stored).
void BM_NestedAB(benchmark::State& state) {
  for (auto _ : state) {
    pthread_mutex_lock(&lock_a);
    pthread_mutex_lock(&lock_b);
    ++counter;
    pthread_mutex_unlock(&lock_b);
    pthread_mutex_unlock(&lock_a);
  }
}

}  // namespace

BENCHMARK(BM_PthreadPair)->Threads(1)->Threads(2);
BENCHMARK(BM_StdMutexGuard)->Threads(1)->Threads(2);
BENCHMARK(BM_NestedAB)->Threads(1)->Threads(2);

// One thread started and joined before any cell: glibc skips the atomics of an uncontended
// pthread_mutex_lock while a process has never had a second thread, so without it the first
// 1-thread cell would run that single-threaded path (about 4 ns a pair here, against 15 once any
// thread has existed) and the rest would not; a lock-heavy program has threads.
int main(int argc, char** argv) {
  std::thread([] {}).join();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
