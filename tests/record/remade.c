// A lock destroyed and re-made at the same address is a new instance: made at make_first, taken
// before `global`; destroyed; made again at make_second, taken after `global`. Two classes, two
// edges, no cycle (a tracker keyed by address alone would see first -> global -> first).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t global = PTHREAD_MUTEX_INITIALIZER;

// The result is checked after the call, so the init call is not a tail call (which would leave
// main as its caller); noipa keeps GCC from folding the two identical functions into one.
__attribute__((noipa)) static void make_first(pthread_mutex_t* m) {
  if (pthread_mutex_init(m, NULL) != 0) abort();
}
__attribute__((noipa)) static void make_second(pthread_mutex_t* m) {
  if (pthread_mutex_init(m, NULL) != 0) abort();
}

int main(void) {
  pthread_mutex_t* m = malloc(sizeof *m);
  make_first(m);
  pthread_mutex_lock(m);
  pthread_mutex_lock(&global);
  pthread_mutex_unlock(&global);
  pthread_mutex_unlock(m);
  pthread_mutex_destroy(m);
  make_second(m);
  pthread_mutex_lock(&global);
  pthread_mutex_lock(m);
  pthread_mutex_unlock(m);
  pthread_mutex_unlock(&global);
  pthread_mutex_destroy(m);
  free(m);
  puts("remade");
  return 0;
}
