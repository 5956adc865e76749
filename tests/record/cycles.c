// A 3-lock cycle (c1 -> c2 -> c3 -> c1) and a 4-lock cycle (d1 -> d2 -> d3 -> d4 -> d1), each edge
// taken by a thread of its own, one thread after another (never a deadlock).
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t c1 = PTHREAD_MUTEX_INITIALIZER, c2 = PTHREAD_MUTEX_INITIALIZER, c3 = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t d1 = PTHREAD_MUTEX_INITIALIZER, d2 = PTHREAD_MUTEX_INITIALIZER, d3 = PTHREAD_MUTEX_INITIALIZER,
                       d4 = PTHREAD_MUTEX_INITIALIZER;

struct pair { pthread_mutex_t* first; pthread_mutex_t* second; };

static void* nest(void* arg) {
  struct pair* p = arg;
  pthread_mutex_lock(p->first);
  pthread_mutex_lock(p->second);
  pthread_mutex_unlock(p->second);
  pthread_mutex_unlock(p->first);
  return NULL;
}

int main(void) {
  struct pair pairs[] = {{&c1, &c2}, {&c2, &c3}, {&c3, &c1}, {&d1, &d2}, {&d2, &d3}, {&d3, &d4}, {&d4, &d1}};
  for (unsigned i = 0; i < sizeof pairs / sizeof pairs[0]; ++i) {
    pthread_t t;
    pthread_create(&t, NULL, nest, &pairs[i]);
    pthread_join(t, NULL);
  }
  puts("cycles");
  return 0;
}
