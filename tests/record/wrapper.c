// The program's own lock wrapper (my_lock), skipped with --wrapper '^my_(un)?lock$': the two
// locks (no init call, in mmap'd memory, not a malloc block: first-use classes) are named by
// take_outer and take_inner, which call the wrapper, and the edge is between them. Without the
// option both would be "my_lock", one class.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

__attribute__((noipa)) static void my_lock(pthread_mutex_t* m) {
  if (pthread_mutex_lock(m) != 0) abort();
}
__attribute__((noipa)) static void my_unlock(pthread_mutex_t* m) {
  if (pthread_mutex_unlock(m) != 0) abort();
}

static pthread_mutex_t* outer;
static pthread_mutex_t* inner;

__attribute__((noipa)) static void take_inner(void) {
  my_lock(inner);
  my_unlock(inner);
}

__attribute__((noipa)) static void take_outer(void) {
  my_lock(outer);
  take_inner();
  my_unlock(outer);
}

int main(void) {
  static const pthread_mutex_t init = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_t* both = mmap(NULL, 2 * sizeof *outer, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (both == MAP_FAILED) return 1;
  outer = &both[0];
  inner = &both[1];
  memcpy(outer, &init, sizeof init);
  memcpy(inner, &init, sizeof init);
  take_outer();
  take_outer();
  munmap(both, 2 * sizeof *outer);
  puts("wrapper");
  return 0;
}
