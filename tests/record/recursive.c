// A recursive mutex taken three deep, with another lock inside: a re-lock is no edge and no
// nesting, only rec -> inner.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;

static int depth(int n) {
  pthread_mutex_lock(&rec);
  int r = n == 0 ? 0 : 1 + depth(n - 1);
  if (n == 0) {
    pthread_mutex_lock(&inner);
    pthread_mutex_unlock(&inner);
  }
  pthread_mutex_unlock(&rec);
  return r;
}

int main(void) {
  printf("depth %d\n", depth(2));
  return 0;
}
