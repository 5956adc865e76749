// A library the dlopen test loads at run time: plugin_lock is taken inside the program's lock, and
// the program's lock inside plugin_lock (through a callback): a cycle through a dlopen'ed library.
#include <pthread.h>

static pthread_mutex_t plugin_lock = PTHREAD_MUTEX_INITIALIZER;

void plugin_work(void) {
  pthread_mutex_lock(&plugin_lock);
  pthread_mutex_unlock(&plugin_lock);
}

void plugin_call_back(void (*fn)(void)) {
  pthread_mutex_lock(&plugin_lock);
  fn();
  pthread_mutex_unlock(&plugin_lock);
}
