// A forked child killed by a signal while it holds a lock: the child's own trace (FILE.<pid>) is
// written by the record tool's fatal-signal handler, with the lock the child took and the end
// "signal 15"; the parent sees the child die of SIGTERM (as bare), then exits normally.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t parent_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t child_lock = PTHREAD_MUTEX_INITIALIZER;

int main(void) {
  pthread_mutex_lock(&parent_lock);
  pthread_mutex_unlock(&parent_lock);
  fflush(stdout);
  const pid_t pid = fork();
  if (pid == 0) {
    pthread_mutex_lock(&child_lock);
    raise(SIGTERM);
    _exit(3);  // not reached
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child %s %d\n", WIFSIGNALED(status) ? "killed by signal" : "exited with",
         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  return 0;
}
