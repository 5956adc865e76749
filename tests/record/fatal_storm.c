// A fatal signal that lands while threads are busy in the interposer's cold path: three workers
// make, take and destroy mutexes in a loop (each init and destroy takes the runtime's own lock), and
// once each has done 1000 rounds main sends SIGTERM to the first worker, which may be holding that
// lock at that moment. Whatever the timing, the handler must not wait for good: the program dies of
// SIGTERM as it does bare, and the trace is written (with or without the lock: "end.locked").
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

enum { kWorkers = 3, kStarted = 1000, kMaxRounds = 2000000 };
static atomic_int rounds[kWorkers];
static pthread_mutex_t storm_lock = PTHREAD_MUTEX_INITIALIZER;

static void* work(void* arg) {
  atomic_int* done = arg;
  for (int i = 0; i < kMaxRounds; ++i) {
    pthread_mutex_t m;
    pthread_mutex_init(&m, NULL);
    pthread_mutex_lock(&storm_lock);
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    pthread_mutex_unlock(&storm_lock);
    pthread_mutex_destroy(&m);
    atomic_store_explicit(done, i + 1, memory_order_relaxed);
  }
  for (;;) pause();  // the signal ends the process
}

int main(void) {
  pthread_t t[kWorkers];
  for (int i = 0; i < kWorkers; ++i) pthread_create(&t[i], NULL, work, &rounds[i]);
  for (int i = 0; i < kWorkers; ++i)
    while (atomic_load_explicit(&rounds[i], memory_order_relaxed) < kStarted) sched_yield();
  puts("workers busy, sending SIGTERM");
  fflush(stdout);
  pthread_kill(t[0], SIGTERM);
  for (;;) pause();
}
