// 100 heap mutexes of one class (made at one init call), all held at once, taken in address
// order: same-class nesting, every time in address order.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct account {
  pthread_mutex_t lock;
  long balance;
};

int main(void) {
  struct account* accounts = calloc(100, sizeof *accounts);
  for (int i = 0; i < 100; ++i) pthread_mutex_init(&accounts[i].lock, NULL);
  long total = 0;
  for (int i = 0; i < 100; ++i) pthread_mutex_lock(&accounts[i].lock);
  for (int i = 0; i < 100; ++i) total += accounts[i].balance + i;
  for (int i = 99; i >= 0; --i) pthread_mutex_unlock(&accounts[i].lock);
  for (int i = 0; i < 100; ++i) pthread_mutex_destroy(&accounts[i].lock);
  free(accounts);
  printf("total %ld\n", total);
  return 0;
}
