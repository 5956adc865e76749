// A program that replaces itself by exec while it holds a lock: one trace per image. The first
// image takes first_lock, tries to exec a program that does not exist (the exec fails and the image
// goes on), takes after_fail_lock, then execs itself with an argument; the second image takes
// again_lock and exits. The first image's trace (written just before the exec, as
// FILE.<pid>.1) holds first_lock and after_fail_lock; the second's (FILE) holds again_lock only.
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t first_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t after_fail_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t again_lock = PTHREAD_MUTEX_INITIALIZER;

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "again") == 0) {
    pthread_mutex_lock(&again_lock);
    puts("second image");
    pthread_mutex_unlock(&again_lock);
    return 0;
  }
  pthread_mutex_lock(&first_lock);
  execl("/nonexistent/smplock-test", "nothing", (char*)NULL);
  printf("exec of a missing program failed: %s\n", strerror(errno));
  pthread_mutex_lock(&after_fail_lock);
  pthread_mutex_unlock(&after_fail_lock);
  puts("first image, about to exec itself");
  fflush(stdout);
  execl("/proc/self/exe", argv[0], "again", (char*)NULL);
  perror("exec");
  return 1;
}
