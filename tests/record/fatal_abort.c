// A program that calls abort() while it holds two locks: it dies of SIGABRT bare and under
// `smplock record`, after the same output, and the trace holds the order abort_outer -> abort_inner.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t abort_outer = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t abort_inner = PTHREAD_MUTEX_INITIALIZER;

int main(void) {
  pthread_mutex_lock(&abort_outer);
  pthread_mutex_lock(&abort_inner);
  puts("about to abort");
  fflush(stdout);
  abort();
}
