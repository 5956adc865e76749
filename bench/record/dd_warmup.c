// Preloaded after TSan's standalone deadlock detector (libclang_rt.dyndd) when measuring it: one
// lock taken from a constructor, so the detector sets itself up before the program's threads race
// to their first lock (it crashes when two threads make its first lock calls at once).
#include <pthread.h>

static pthread_mutex_t warm = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void warm_up(void) {
  pthread_mutex_lock(&warm);
  pthread_mutex_unlock(&warm);
}
