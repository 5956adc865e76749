// rwlocks in reverse orders: r1 and r2 only ever read-locked (read-read: no deadlock between
// readers alone); w1 read then w2 written, and w2 written then w1 read (can deadlock).
#include <pthread.h>
#include <stdio.h>

static pthread_rwlock_t r1 = PTHREAD_RWLOCK_INITIALIZER, r2 = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t w1 = PTHREAD_RWLOCK_INITIALIZER, w2 = PTHREAD_RWLOCK_INITIALIZER;

static void* readers(void* arg) {
  pthread_rwlock_rdlock(&r1);
  pthread_rwlock_rdlock(&r2);
  pthread_rwlock_unlock(&r2);
  pthread_rwlock_unlock(&r1);
  pthread_rwlock_rdlock(&r2);
  pthread_rwlock_rdlock(&r1);
  pthread_rwlock_unlock(&r1);
  pthread_rwlock_unlock(&r2);
  return arg;
}

static void* mixed(void* arg) {
  pthread_rwlock_rdlock(&w1);
  pthread_rwlock_wrlock(&w2);
  pthread_rwlock_unlock(&w2);
  pthread_rwlock_unlock(&w1);
  return arg;
}

static void* mixed_back(void* arg) {
  pthread_rwlock_wrlock(&w2);
  pthread_rwlock_rdlock(&w1);
  pthread_rwlock_unlock(&w1);
  pthread_rwlock_unlock(&w2);
  return arg;
}

int main(void) {
  void* (*steps[])(void*) = {readers, mixed, mixed_back};
  for (int i = 0; i < 3; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, steps[i], NULL);
    pthread_join(t, NULL);
  }
  puts("rwlocks");
  return 0;
}
