// The lock-heavy loop of bench/results/record.md: THREADS threads (argv[1]), each taking and
// releasing one shared pthread mutex ITERS times (argv[2]); with 1 thread it is the uncontended
// fast path, with 2 the contended one. Prints the total, which must be THREADS * ITERS.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long iters, total;

static void* loop(void* arg) {
  for (long i = 0; i < iters; ++i) {
    pthread_mutex_lock(&lock);
    ++total;
    pthread_mutex_unlock(&lock);
  }
  return arg;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  iters = argc > 2 ? atol(argv[2]) : 1000000;
  pthread_t t[64];
  if (threads < 1 || threads > 64) return 2;
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, loop, NULL);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  printf("%ld\n", total);
  return 0;
}
