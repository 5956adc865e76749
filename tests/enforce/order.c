/* A program with a safe half and unsafe halves, chosen by its first argument, for `smplock enforce`
 * (tests/enforce/check.py). The safe half takes its locks in one order: the global `outer` before
 * `inner`, and inside `inner` two accounts (a class made by pthread_mutex_init in make_account) in
 * address order. A table learned from the safe half must accept it, and catch:
 *   r1      `outer` taken inside `inner` (a lock below a level held: R1), three times;
 *   r2      two accounts nested in descending address order (same level, not in address order: R2);
 *   relock  a recursive mutex taken again inside itself, inside `inner` (R3's no-op: no report);
 *   abba    two threads, `outer` then `inner` and `inner` then `outer`, one after the other (the
 *           second thread starts when the first has ended: it would deadlock only by chance).
 * Every half prints what it did; the output must not change under enforce --warn. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t outer = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t inner = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t again;

struct account {
  pthread_mutex_t lock;
  long balance;
};

static struct account* make_account(long balance) {
  struct account* a = malloc(sizeof *a);
  pthread_mutex_init(&a->lock, NULL);
  a->balance = balance;
  return a;
}

/* Moves `n` from one account to another, both locked in address order (the safe way) or in the
 * order given (`ordered` 0). */
static void transfer(struct account* from, struct account* to, long n, int ordered) {
  struct account* first = from;
  struct account* second = to;
  if (ordered && (char*)to < (char*)from) {
    first = to;
    second = from;
  }
  pthread_mutex_lock(&first->lock);
  pthread_mutex_lock(&second->lock);
  from->balance -= n;
  to->balance += n;
  pthread_mutex_unlock(&second->lock);
  pthread_mutex_unlock(&first->lock);
}

static long total(struct account** acc, int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) {
    pthread_mutex_lock(&acc[i]->lock);
    sum += acc[i]->balance;
    pthread_mutex_unlock(&acc[i]->lock);
  }
  return sum;
}

static void outer_then_inner(void) {
  pthread_mutex_lock(&outer);
  pthread_mutex_lock(&inner);
  pthread_mutex_unlock(&inner);
  pthread_mutex_unlock(&outer);
}

static void inner_then_outer(void) {
  pthread_mutex_lock(&inner);
  pthread_mutex_lock(&outer);
  pthread_mutex_unlock(&outer);
  pthread_mutex_unlock(&inner);
}

static void* thread_forward(void* arg) {
  (void)arg;
  outer_then_inner();
  return NULL;
}

static void* thread_backward(void* arg) {
  (void)arg;
  inner_then_outer();
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "safe";
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&again, &attr);

  struct account* acc[4];
  for (int i = 0; i < 4; ++i) acc[i] = make_account(100);
  /* The safe half, always: every order the table learns. */
  for (int round = 0; round < 3; ++round) {
    outer_then_inner();
    pthread_mutex_lock(&inner);
    transfer(acc[0], acc[3], 10, 1);
    transfer(acc[3], acc[1], 5, 1);
    pthread_mutex_lock(&again);
    pthread_mutex_unlock(&again);
    pthread_mutex_unlock(&inner);
  }
  printf("safe: total %ld\n", total(acc, 4));

  if (strcmp(mode, "r1") == 0) {
    for (int i = 0; i < 3; ++i) inner_then_outer();
    printf("r1: done\n");
  } else if (strcmp(mode, "r2") == 0) {
    struct account* lo = (char*)acc[0] < (char*)acc[1] ? acc[0] : acc[1];
    struct account* hi = lo == acc[0] ? acc[1] : acc[0];
    for (int i = 0; i < 3; ++i) transfer(hi, lo, 1, 0);
    printf("r2: total %ld\n", total(acc, 4));
  } else if (strcmp(mode, "relock") == 0) {
    pthread_mutex_lock(&inner);
    pthread_mutex_lock(&again);
    pthread_mutex_lock(&again);
    pthread_mutex_unlock(&again);
    pthread_mutex_unlock(&again);
    pthread_mutex_unlock(&inner);
    printf("relock: done\n");
  } else if (strcmp(mode, "abba") == 0) {
    pthread_t t;
    pthread_create(&t, NULL, thread_forward, NULL);
    pthread_join(t, NULL);
    pthread_create(&t, NULL, thread_backward, NULL);
    pthread_join(t, NULL);
    printf("abba: done\n");
  }
  for (int i = 0; i < 4; ++i) {
    pthread_mutex_destroy(&acc[i]->lock);
    free(acc[i]);
  }
  return 0;
}
