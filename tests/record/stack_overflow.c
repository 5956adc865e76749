// A thread that overflows its stack while it holds a lock, on a thread with a small alternate
// signal stack of its own (and no SIGSEGV handler of its own): bare, the kernel kills the process
// with SIGSEGV. Under `smplock record` the handler runs on that alternate stack (SA_ONSTACK), writes
// the trace on a stack it maps for the write (the alternate one is too small for it), and the
// overflowing instruction then faults again with the default action: the same SIGSEGV, with the
// trace holding overflow_lock. (A thread without an alternate stack cannot run any handler after
// an overflow: no trace then, as docs/record.md says.)
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t overflow_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline)) static int deeper(int n) {
  volatile char frame[1024];
  frame[0] = (char)n;
  if (n < 1000000000) return deeper(n + 1) + frame[0];
  return 0;
}

static void* overflow(void* arg) {
  (void)arg;
  stack_t ss;
  ss.ss_sp = malloc(16384);
  ss.ss_size = 16384;
  ss.ss_flags = 0;
  if (ss.ss_sp == NULL || sigaltstack(&ss, NULL) != 0) return NULL;
  pthread_mutex_lock(&overflow_lock);
  puts("about to overflow the stack");
  fflush(stdout);
  printf("%d\n", deeper(0));
  return NULL;
}

int main(void) {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t t;
  pthread_create(&t, &attr, overflow, NULL);
  pthread_join(t, NULL);
  return 0;
}
