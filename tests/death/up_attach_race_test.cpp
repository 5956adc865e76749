// tests/death/up_attach_race_test.cpp: the uniprocessor build's "a second CPU is attaching" check
// is atomic (issue 11, defect 9). Each trial is a child process in which two threads attach at the
// same moment and then wait for each other: exactly one may attach, so every child must die with
// the report. Before the fix the check read the count before the increment, and 59-351 of 2,000
// trials let both attach (the child then exited 0).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "smplock/smplock.hpp"

#ifndef SMPLOCK_UNIPROCESSOR
#error "this test is for the uniprocessor build"
#endif

namespace {

// In the child: two threads attach together; returns only if both got in.
int two_attach_at_once() {
  // The child must stay quiet when it dies the expected way: stderr to /dev/null.
  if (std::freopen("/dev/null", "w", stderr) == nullptr) return 3;
  std::atomic<int> at_gate{0}, attached{0};
  auto body = [&] {
    at_gate.fetch_add(1);
    while (at_gate.load() != 2) {
    }
    (void)smplock::cpu_index();
    attached.fetch_add(1);
    while (attached.load() != 2) {  // hold the CPU until the other one is in too (or we die)
    }
  };
  std::thread a(body), b(body);
  a.join();
  b.join();
  return 0;
}

}  // namespace

TEST(UniprocessorAttach, TwoThreadsAttachingAtOnceNeverBothGetIn) {
  constexpr int kTrials = 300;
  int both_in = 0, other = 0;
  for (int t = 0; t < kTrials; ++t) {
    const pid_t pid = fork();
    if (pid == 0) std::_Exit(two_attach_at_once());
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
      ++both_in;
    else if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
      ++other;
  }
  EXPECT_EQ(both_in, 0) << "trials where two CPUs attached to a uniprocessor build";
  EXPECT_EQ(other, 0) << "trials that ended neither by the crash nor with both attached";
}
