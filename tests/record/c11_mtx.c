// C11 mtx_* and cnd_*: plain and recursive mtx, nested: first -> second, a re-lock of the
// recursive one is no edge.
#include <stdio.h>
#include <threads.h>

static mtx_t first, second;
static cnd_t cond;

int main(void) {
  mtx_init(&first, mtx_plain);
  mtx_init(&second, mtx_plain | mtx_recursive);
  cnd_init(&cond);
  mtx_lock(&first);
  mtx_lock(&second);
  mtx_lock(&second);
  mtx_unlock(&second);
  mtx_unlock(&second);
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  cnd_timedwait(&cond, &first, &ts);  // times out at once, and takes first again
  mtx_unlock(&first);
  mtx_destroy(&second);
  mtx_destroy(&first);
  puts("c11");
  return 0;
}
