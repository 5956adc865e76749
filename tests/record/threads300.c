// 300 threads alive at once, each taking outer then inner: one edge seen by 300 threads (the
// trace keeps 16 of their ids and the exact count).
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start = PTHREAD_COND_INITIALIZER;
static int go;
static long count;

static void* worker(void* arg) {
  // All 300 exist before any takes outer, so no record is reused.
  pthread_mutex_lock(&start_lock);
  while (!go) pthread_cond_wait(&start, &start_lock);
  pthread_mutex_unlock(&start_lock);
  pthread_mutex_lock(&outer);
  pthread_mutex_lock(&inner);
  ++count;
  pthread_mutex_unlock(&inner);
  pthread_mutex_unlock(&outer);
  return arg;
}

int main(void) {
  pthread_t t[300];
  for (int i = 0; i < 300; ++i) pthread_create(&t[i], NULL, worker, NULL);
  pthread_mutex_lock(&start_lock);
  go = 1;
  pthread_cond_broadcast(&start);
  pthread_mutex_unlock(&start_lock);
  for (int i = 0; i < 300; ++i) pthread_join(t[i], NULL);
  printf("count %ld\n", count);
  return 0;
}
