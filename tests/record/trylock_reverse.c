// a -> b blocking; b then a by trylock (backing off when it fails): a cycle through a trylock,
// which cannot deadlock.
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;

static void* forward(void* arg) {
  pthread_mutex_lock(&lock_a);
  pthread_mutex_lock(&lock_b);
  pthread_mutex_unlock(&lock_b);
  pthread_mutex_unlock(&lock_a);
  return arg;
}

static void* backward(void* arg) {
  int got = 0;
  pthread_mutex_lock(&lock_b);
  if (pthread_mutex_trylock(&lock_a) == 0) {
    got = 1;
    pthread_mutex_unlock(&lock_a);
  }
  pthread_mutex_unlock(&lock_b);
  *(int*)arg = got;
  return NULL;
}

int main(void) {
  pthread_t t;
  int got = 0;
  pthread_create(&t, NULL, forward, NULL);
  pthread_join(t, NULL);
  pthread_create(&t, NULL, backward, &got);
  pthread_join(t, NULL);
  printf("trylock %d\n", got);
  return 0;
}
