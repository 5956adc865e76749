// A program that forks while holding a lock: the child still holds held_lock (its copy), takes
// child_lock inside it and exits; its trace (FILE.<pid>) has held_lock -> child_lock, the parent's
// has neither that edge nor the child's acquisitions.
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t parent_lock = PTHREAD_MUTEX_INITIALIZER;

static void* helper(void* arg) {
  pthread_mutex_lock(&parent_lock);
  pthread_mutex_unlock(&parent_lock);
  return arg;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, helper, NULL);
  pthread_join(t, NULL);
  pthread_mutex_lock(&held_lock);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    pthread_mutex_lock(&child_lock);
    pthread_mutex_unlock(&child_lock);
    pthread_mutex_unlock(&held_lock);
    printf("child\n");
    return 0;
  }
  pthread_mutex_unlock(&held_lock);
  int status = 0;
  waitpid(pid, &status, 0);
  pthread_mutex_lock(&parent_lock);
  pthread_mutex_lock(&held_lock);
  pthread_mutex_unlock(&held_lock);
  pthread_mutex_unlock(&parent_lock);
  printf("parent, child %d\n", WEXITSTATUS(status));
  return 0;
}
