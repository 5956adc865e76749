// A cycle through a dlopen'ed library (plugin.c): main_lock -> plugin_lock in one thread,
// plugin_lock -> main_lock (a callback) in the next. The library stays loaded to the end.
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t main_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*work)(void);
static void (*call_back)(void (*)(void));

static void take_main(void) {
  pthread_mutex_lock(&main_lock);
  pthread_mutex_unlock(&main_lock);
}

static void* forward(void* arg) {
  pthread_mutex_lock(&main_lock);
  work();
  pthread_mutex_unlock(&main_lock);
  return arg;
}

static void* backward(void* arg) {
  call_back(take_main);
  return arg;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* lib = dlopen(argv[1], RTLD_NOW);
  if (lib == NULL) {
    fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  work = (void (*)(void))dlsym(lib, "plugin_work");
  call_back = (void (*)(void (*)(void)))dlsym(lib, "plugin_call_back");
  pthread_t t;
  pthread_create(&t, NULL, forward, NULL);
  pthread_join(t, NULL);
  pthread_create(&t, NULL, backward, NULL);
  pthread_join(t, NULL);
  puts("dlopen");
  return 0;
}
