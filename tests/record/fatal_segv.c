// A program that writes through a null pointer while it holds a lock, on a second thread: it dies
// of SIGSEGV bare and under `smplock record` (the faulting store runs again after the trace is
// written, so the fault, and its core, are the program's own), and the trace holds both classes
// and the edge between them.
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t outer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t segv_lock = PTHREAD_MUTEX_INITIALIZER;
static int* volatile nowhere;  // null, and the compiler cannot know it

static void* crash(void* arg) {
  (void)arg;
  pthread_mutex_lock(&outer_lock);
  pthread_mutex_lock(&segv_lock);
  puts("about to write through a null pointer");
  fflush(stdout);
  *nowhere = 1;
  puts("not reached");
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, crash, NULL);
  pthread_join(t, NULL);
  return 0;
}
