// Contention made certain without timing: main holds `busy` until the waiter is seen blocked in
// the kernel (glibc's lock word turns 2 when a thread waits), so the waiter's first try fails: one
// contended acquisition, a wait time, one contended call site in `waiter`. Inside `busy` the waiter
// takes a pthread spin lock: the edge busy -> spin.
#include <pthread.h>
#include <sched.h>
#include <stdio.h>

static pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
static pthread_spinlock_t spin;
static int done;

__attribute__((noinline)) static void* waiter(void* arg) {
  pthread_mutex_lock(&busy);
  pthread_spin_lock(&spin);
  done = 1;
  pthread_spin_unlock(&spin);
  pthread_mutex_unlock(&busy);
  return arg;
}

int main(void) {
  pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE);
  pthread_mutex_lock(&busy);
  pthread_t t;
  pthread_create(&t, NULL, waiter, NULL);
  while (__atomic_load_n(&busy.__data.__lock, __ATOMIC_ACQUIRE) != 2) sched_yield();
  pthread_mutex_unlock(&busy);
  pthread_join(t, NULL);
  pthread_spin_destroy(&spin);
  printf("done %d\n", done);
  return 0;
}
