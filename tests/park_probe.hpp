// What the kernel says about a lock's sleepers, for the park protocol's tests (lock_wait_test,
// stress/park_test): whether a thread is asleep in a futex wait on a given word, how many times a
// thread has slept, and the one state that proves a wake-up was lost.
//
// A lost wake-up has no time limit to hide behind any more (src/lock.cpp sleeps without one), so
// it shows as a state, not as a slow run: the lock's word is free, no thread makes progress, and
// every thread still due to take the lock is asleep in the kernel on that word. No release is then
// in flight (a releaser is awake until its wake-up call returns), so nothing will ever wake them.
// stuck() checks exactly that, reading the word and the progress count before and after the
// threads' states, so a state that changed while it looked is never taken for it.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "smplock/smplock.hpp"

namespace smplock::test {

inline int gettid_now() { return static_cast<int>(syscall(SYS_gettid)); }

// Whether thread `tid` of this process is asleep (state S) inside futex() on `word`.
inline bool asleep_on(int tid, const void* word) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return false;
  long nr = -1;
  unsigned long arg0 = 0;
  const int got = std::fscanf(f, "%ld %lx", &nr, &arg0);
  std::fclose(f);
  if (got != 2 || nr != SYS_futex || arg0 != reinterpret_cast<std::uintptr_t>(word)) return false;
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  f = std::fopen(path, "r");
  if (f == nullptr) return false;
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');  // the name may hold spaces; the state follows it
  return paren != nullptr && paren[1] == ' ' && paren[2] == 'S';
}

// How many times thread `tid` has given up its processor of its own accord (each futex sleep is
// one): voluntary_ctxt_switches in /proc.
inline long voluntary_switches(int tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  char line[256];
  long v = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1) break;
  std::fclose(f);
  return v;
}

// The lost-wake-up state: `word` owned by no CPU (free, or handed off to a hungry waiter: the
// releaser that handed it over wakes every sleeper before it goes on, so nobody asleep on it can be
// left there), `progress` unchanged, and every thread in `due` asleep on the word. `due` are the
// threads that have not yet finished with the lock.
inline bool stuck(const std::atomic<std::uint32_t>& word, const std::atomic<std::uint64_t>& progress,
                  const std::vector<int>& due) {
  if (due.empty()) return false;
  const std::uint64_t p1 = progress.load();
  const std::uint32_t w = word.load();
  if (w != 0 && w != Lock::kHandOff) return false;  // held: its owner's release wakes a counted sleeper
  for (int tid : due)
    if (!asleep_on(tid, &word)) return false;
  return word.load() == w && progress.load() == p1;
}

// Wakes every sleeper on `word`: how a test that found stuck() gets its threads back to finish.
inline void wake_all(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1 << 30, nullptr, nullptr, 0);
}

}  // namespace smplock::test
