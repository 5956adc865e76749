// A program killed by a signal while it holds a lock: `smplock record` dies of the same signal
// (SIGTERM), after the same output; no trace is written (the interposer has no signal handler).
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int main(void) {
  pthread_mutex_lock(&lock);
  puts("before the signal");
  fflush(stdout);
  raise(SIGTERM);
  puts("not reached");
  return 0;
}
