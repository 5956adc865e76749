// pthread_cond_wait releases its mutex and takes it again: a producer and a consumer hand over
// 1000 items through a one-slot buffer; `box` is acquired by both, and nothing is nested.
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t box = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int full, value;
static long sum;

static void* consumer(void* arg) {
  for (int i = 0; i < 1000; ++i) {
    pthread_mutex_lock(&box);
    while (!full) pthread_cond_wait(&changed, &box);
    sum += value;
    full = 0;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&box);
  }
  return arg;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, consumer, NULL);
  for (int i = 1; i <= 1000; ++i) {
    pthread_mutex_lock(&box);
    while (full) pthread_cond_wait(&changed, &box);
    value = i;
    full = 1;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&box);
  }
  pthread_join(t, NULL);
  printf("sum %ld\n", sum);
  return 0;
}
