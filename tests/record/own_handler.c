// A program that handles signals itself: under `smplock record` it must see what it sees bare.
// SIGSEGV's disposition reads SIG_DFL (with no flags) though the record tool's handler is there;
// its own SIGTERM handler runs (not the record tool's, and the program goes on); SIGINT set to
// SIG_IGN is ignored and signal() says the old one was SIG_DFL; SIGINT set back to SIG_DFL brings
// the record tool's handler back, so the SIGINT that ends the program writes the trace (with
// handler_lock held) and `smplock record` dies of SIGINT as the program does bare.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000  // Linux's flag for glibc's return trampoline: left out of what is printed
#endif

static pthread_mutex_t handler_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t terms;

static void on_term(int sig) {
  (void)sig;
  terms = terms + 1;
  static const char msg[] = "own SIGTERM handler ran\n";
  write(1, msg, sizeof msg - 1);
}

int main(void) {
  pthread_mutex_lock(&handler_lock);
  struct sigaction q;
  memset(&q, 0xff, sizeof q);
  sigaction(SIGSEGV, NULL, &q);
  printf("SIGSEGV: %s, flags %#x\n", q.sa_handler == SIG_DFL ? "default" : "not default", (unsigned)q.sa_flags);
  struct sigaction a;
  memset(&a, 0, sizeof a);
  a.sa_handler = on_term;
  sigemptyset(&a.sa_mask);
  struct sigaction old;
  sigaction(SIGTERM, &a, &old);
  printf("SIGTERM was %s\n", old.sa_handler == SIG_DFL ? "default" : "not default");
  fflush(stdout);
  raise(SIGTERM);
  sigaction(SIGTERM, NULL, &q);
  printf("after it: %d SIGTERM seen, handler %s\n", (int)terms, q.sa_handler == on_term ? "still ours" : "changed");
  void (*was)(int) = signal(SIGINT, SIG_IGN);
  printf("SIGINT was %s\n", was == SIG_DFL ? "default" : "not default");
  fflush(stdout);
  raise(SIGINT);
  puts("SIGINT ignored");
  was = signal(SIGINT, SIG_DFL);
  printf("SIGINT was %s\n", was == SIG_IGN ? "ignored" : "not ignored");
  sigaction(SIGINT, NULL, &q);
  printf("SIGINT now %s, flags %#x\n", q.sa_handler == SIG_DFL ? "default" : "not default",
         (unsigned)(q.sa_flags & ~SA_RESTORER));
  fflush(stdout);
  raise(SIGINT);
  puts("not reached");
  return 0;
}
