// bench/locks_callgrind.cpp: a tiny program for counting instructions under
// `valgrind --tool=callgrind`: N uncontended acquire+release pairs of one lock (or N passes over a
// 4-lock chain with --chain). Run it at two values of N and divide the difference in instructions
// by the difference in N: start-up and the first acquire (which attaches the thread) cancel out.
// scripts/bench.sh does exactly that.
//
//   locks_callgrind LOCK PAIRS [--chain]     LOCK: ours, ttas, pthread_spin, ... (--list prints them)
// Also built against the library without statistics (bench_locks_callgrind_nocounters), where the
// one lock is ours under the name ours_nocounters.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "harness/adapters.hpp"

namespace smplock::bench {
namespace {

template <class L>
void run(unsigned long pairs, bool chain) {
  L a(0), b(1), c(2), d(3);
  typename L::Node na{}, nb{}, nc{}, nd{};
  begin_run<L>();
  for (unsigned long i = 0; i < pairs; ++i) {
    a.lock(na);
    if (chain) {
      b.lock(nb);
      c.lock(nc);
      d.lock(nd);
      d.unlock(nd);
      c.unlock(nc);
      b.unlock(nb);
    }
    a.unlock(na);
  }
  end_run<L>();
}

template <class... Ls>
bool dispatch(LockList<Ls...>, std::string_view name, unsigned long pairs, bool chain) {
  return ((name == Ls::kName ? (run<Ls>(pairs, chain), true) : false) || ...);
}

template <class... Ls>
void list(LockList<Ls...>) {
  ((std::printf("%s\n", Ls::kName)), ...);
}

}  // namespace
}  // namespace smplock::bench

int main(int argc, char** argv) {
  using namespace smplock::bench;
#ifdef SMPLOCK_BENCH_NOCOUNTERS
  // Built against the library without statistics: only ours, under its own row name.
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    std::printf("ours_nocounters\n");
    return 0;
  }
  if (argc >= 3 && std::strcmp(argv[1], "ours_nocounters") == 0) {
    run<OursLock>(std::strtoul(argv[2], nullptr, 10), argc == 4);
    return 0;
  }
#endif
  if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
    list(AllLocks{});
    std::printf("%s\n", AbslNoDeadlockLock::kName);
    return 0;
  }
  if (argc < 3 || argc > 4 || (argc == 4 && std::strcmp(argv[3], "--chain") != 0)) {
    std::fprintf(stderr, "usage: %s LOCK PAIRS [--chain]   (--list: the locks)\n", argv[0]);
    return 2;
  }
  const unsigned long pairs = std::strtoul(argv[2], nullptr, 10);
  if (std::strcmp(argv[1], AbslNoDeadlockLock::kName) == 0) {
    // absl::Mutex with its deadlock detection off: a process-wide switch, set before any lock.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    run<AbslNoDeadlockLock>(pairs, argc == 4);
    return 0;
  }
  if (!dispatch(AllLocks{}, argv[1], pairs, argc == 4)) {
    std::fprintf(stderr, "%s: no lock named '%s' (--list: the locks)\n", argv[0], argv[1]);
    return 2;
  }
  return 0;
}
