// A program killed by a signal while it holds a lock: `smplock record` dies of the same signal
// (SIGTERM), after the same output, and the trace is written by the record tool's fatal-signal
// handler (src/record/signals.cpp) before the signal's default action runs: it holds the class of
// the lock held at the kill, and says the image ended by signal 15.
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
