// ABBA in two threads whose orders are separated in time (the second thread starts after the first
// has joined): it never deadlocks, yet the order graph has the cycle a -> b -> a.
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static int counter;

static void* forward(void* arg) {
  pthread_mutex_lock(&lock_a);
  pthread_mutex_lock(&lock_b);
  ++counter;
  pthread_mutex_unlock(&lock_b);
  pthread_mutex_unlock(&lock_a);
  return arg;
}

static void* backward(void* arg) {
  pthread_mutex_lock(&lock_b);
  pthread_mutex_lock(&lock_a);
  ++counter;
  pthread_mutex_unlock(&lock_a);
  pthread_mutex_unlock(&lock_b);
  return arg;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, forward, NULL);
  pthread_join(t, NULL);
  pthread_create(&t, NULL, backward, NULL);
  pthread_join(t, NULL);
  printf("counter %d\n", counter);
  return 3;  // an exit status of its own, passed on by `smplock record`
}
