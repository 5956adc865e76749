// bench/harness/adapters.hpp: one small adapter per lock, shared by the benchmarks
// (bench/locks_bench.cpp) and the correctness stress test (tests/stress/peer_locks_test.cpp).
//
//   OursLock            smplock::Lock through acquire()/release(previous), every check on
//   OursHoldTimedLock   the same with hold timing switched on (stats::set_hold_timing)
//   TtasLock            a plain test-and-test-and-set lock: the floor nothing can beat
//   PthreadSpinLock, PthreadMutexLock, PthreadAdaptiveLock, StdMutexLock
//   AbslMutexLock       absl::Mutex; its deadlock detection is process-wide, see AbslNoDeadlockLock
//   AbslSpinLock        absl::base_internal::SpinLock (internal API of Abseil)
//   TbbSpinLock, TbbQueuingLock
//   CkFasLock, CkTicketLock, CkMcsLock   Concurrency Kit (through bench/peers/ck_locks.c)
//
// An adapter is:
//   static constexpr const char* kName;  short row name ("ours", "ttas", ...)
//   static constexpr bool kFifo;         hands the lock to the longest waiter (collapses when
//                                        threads outnumber cores)
//   using Node = ...;                    per-thread, per-lock state that lives from lock() to
//                                        unlock(): our saved level, an MCS queue node
//   explicit Adapter(unsigned rank);     rank 0..3: position in a chain of nested locks (ours gives
//                                        each rank a rising level; peers just take them in order)
//   void lock(Node&); void unlock(Node&);
// and optionally static begin_run()/end_run() around a measurement (process-wide switches).
//
// Not part of the library: benchmark and test code only.
#pragma once

#include <absl/base/internal/spinlock.h>
#include <absl/synchronization/mutex.h>
#include <oneapi/tbb/queuing_mutex.h>
#include <oneapi/tbb/spin_mutex.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "../peers/ck_locks.h"
#include "smplock/smplock.hpp"

// Every adapter call is forced inline, as a caller using the lock directly would have it: without
// this, GCC may keep a large inline fast path (ours) behind an out-of-line adapter call, which a
// real caller of Lock::acquire() never pays.
#define SMPLOCK_BENCH_INLINE [[gnu::always_inline]] inline

namespace smplock::bench {

struct NoNode {};

// The levels of a four-lock chain of ours: four neighbours of the thread-state split.
inline constexpr Level kChainLevels[4] = {Level::PM, Level::CP, Level::PS, Level::TF};

// --- ours ----------------------------------------------------------------------------------------

class OursLock {
 public:
  static constexpr const char* kName = "ours";
  static constexpr bool kFifo = false;
  struct Node {
    Level previous = Level::Null;
  };
  explicit OursLock(unsigned rank) : lock_(kChainLevels[rank & 3], "bench") {}
  SMPLOCK_BENCH_INLINE void lock(Node& n) { n.previous = lock_.acquire(); }
  SMPLOCK_BENCH_INLINE void unlock(Node& n) { lock_.release(n.previous); }

 private:
  Lock lock_;
};

// Ours with hold timing on: the release leaves the fast path to read the clock. The switch is
// process-wide, so it is turned on only around this adapter's runs.
class OursHoldTimedLock : public OursLock {
 public:
  static constexpr const char* kName = "ours_holdtimed";
  using OursLock::OursLock;
  static void begin_run() { stats::set_hold_timing(true); }
  static void end_run() { stats::set_hold_timing(false); }
};

// --- the floor -----------------------------------------------------------------------------------

// Test-and-test-and-set with a pause while the word is busy; no backoff, no parking, no checks.
class TtasLock {
 public:
  static constexpr const char* kName = "ttas";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit TtasLock(unsigned) {}
  SMPLOCK_BENCH_INLINE void lock(Node&) {
    for (;;) {
      // Acquire pairs with the release store of the previous holder.
      if (!word_.exchange(true, std::memory_order_acquire)) return;
      // Read-only wait: the line stays shared until the holder writes it.
      while (word_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
    }
  }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { word_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> word_{false};
};

// --- libc and the standard library ---------------------------------------------------------------

class PthreadSpinLock {
 public:
  static constexpr const char* kName = "pthread_spin";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit PthreadSpinLock(unsigned) { pthread_spin_init(&lock_, PTHREAD_PROCESS_PRIVATE); }
  ~PthreadSpinLock() { pthread_spin_destroy(&lock_); }
  PthreadSpinLock(const PthreadSpinLock&) = delete;
  PthreadSpinLock& operator=(const PthreadSpinLock&) = delete;
  SMPLOCK_BENCH_INLINE void lock(Node&) { pthread_spin_lock(&lock_); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { pthread_spin_unlock(&lock_); }

 private:
  pthread_spinlock_t lock_;
};

class PthreadMutexLock {
 public:
  static constexpr const char* kName = "pthread_mutex";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit PthreadMutexLock(unsigned) {}
  SMPLOCK_BENCH_INLINE void lock(Node&) { pthread_mutex_lock(&lock_); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { pthread_mutex_unlock(&lock_); }

 private:
  pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;
};

// glibc's adaptive mutex: spins a while (bounded by its own estimate) before sleeping.
class PthreadAdaptiveLock {
 public:
  static constexpr const char* kName = "pthread_adaptive";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit PthreadAdaptiveLock(unsigned) {
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&lock_, &attr);
    pthread_mutexattr_destroy(&attr);
  }
  ~PthreadAdaptiveLock() { pthread_mutex_destroy(&lock_); }
  PthreadAdaptiveLock(const PthreadAdaptiveLock&) = delete;
  PthreadAdaptiveLock& operator=(const PthreadAdaptiveLock&) = delete;
  SMPLOCK_BENCH_INLINE void lock(Node&) { pthread_mutex_lock(&lock_); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { pthread_mutex_unlock(&lock_); }

 private:
  pthread_mutex_t lock_;
};

class StdMutexLock {
 public:
  static constexpr const char* kName = "std_mutex";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit StdMutexLock(unsigned) {}
  SMPLOCK_BENCH_INLINE void lock(Node&) { lock_.lock(); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { lock_.unlock(); }

 private:
  std::mutex lock_;
};

// --- Abseil --------------------------------------------------------------------------------------

// absl::Mutex as the process has it configured. Debian builds Abseil with deadlock detection on
// (a lock-order graph updated on every acquire): the only dynamically checked peer. The program
// bench_locks_absl_nodd turns detection off for the whole process and runs AbslNoDeadlockLock.
class AbslMutexLock {
 public:
  static constexpr const char* kName = "absl_mutex_dd";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit AbslMutexLock(unsigned) {}
  SMPLOCK_BENCH_INLINE void lock(Node&) { lock_.Lock(); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { lock_.Unlock(); }

 private:
  absl::Mutex lock_;
};

class AbslNoDeadlockLock : public AbslMutexLock {
 public:
  static constexpr const char* kName = "absl_mutex";
  using AbslMutexLock::AbslMutexLock;
};

class AbslSpinLock {
 public:
  static constexpr const char* kName = "absl_spinlock";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit AbslSpinLock(unsigned) {}
  SMPLOCK_BENCH_INLINE void lock(Node&) { lock_.Lock(); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { lock_.Unlock(); }

 private:
  absl::base_internal::SpinLock lock_;
};

// --- oneTBB --------------------------------------------------------------------------------------

class TbbSpinLock {
 public:
  static constexpr const char* kName = "tbb_spin";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit TbbSpinLock(unsigned) {}
  SMPLOCK_BENCH_INLINE void lock(Node&) { lock_.lock(); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { lock_.unlock(); }

 private:
  tbb::spin_mutex lock_;
};

// A queue lock: each acquisition's scoped_lock is its queue node.
class TbbQueuingLock {
 public:
  static constexpr const char* kName = "tbb_queuing";
  static constexpr bool kFifo = true;
  using Node = tbb::queuing_mutex::scoped_lock;
  explicit TbbQueuingLock(unsigned) {}
  SMPLOCK_BENCH_INLINE void lock(Node& n) { n.acquire(lock_); }
  SMPLOCK_BENCH_INLINE void unlock(Node& n) { n.release(); }

 private:
  tbb::queuing_mutex lock_;
};

// --- Concurrency Kit -----------------------------------------------------------------------------

class CkFasLock {
 public:
  static constexpr const char* kName = "ck_fas";
  static constexpr bool kFifo = false;
  using Node = NoNode;
  explicit CkFasLock(unsigned) { smplock_ck_fas_init(&word_); }
  SMPLOCK_BENCH_INLINE void lock(Node&) { smplock_ck_fas_lock(&word_); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { smplock_ck_fas_unlock(&word_); }

 private:
  alignas(8) SmplockCkWord word_{};
};

class CkTicketLock {
 public:
  static constexpr const char* kName = "ck_ticket";
  static constexpr bool kFifo = true;
  using Node = NoNode;
  explicit CkTicketLock(unsigned) { smplock_ck_ticket_init(&word_); }
  SMPLOCK_BENCH_INLINE void lock(Node&) { smplock_ck_ticket_lock(&word_); }
  SMPLOCK_BENCH_INLINE void unlock(Node&) { smplock_ck_ticket_unlock(&word_); }

 private:
  alignas(8) SmplockCkWord word_{};
};

class CkMcsLock {
 public:
  static constexpr const char* kName = "ck_mcs";
  static constexpr bool kFifo = true;
  using Node = SmplockCkWord;
  explicit CkMcsLock(unsigned) { smplock_ck_mcs_init(&tail_); }
  SMPLOCK_BENCH_INLINE void lock(Node& n) { smplock_ck_mcs_lock(&tail_, &n); }
  SMPLOCK_BENCH_INLINE void unlock(Node& n) { smplock_ck_mcs_unlock(&tail_, &n); }

 private:
  alignas(8) SmplockCkWord tail_{};
};

// --- lists ---------------------------------------------------------------------------------------

template <class... Ls>
struct LockList {};

// Whether the adapter's lock is visible to ThreadSanitizer: the peers whose synchronisation lives
// in uninstrumented libraries (Abseil, oneTBB) or inline assembly (Concurrency Kit) look like data
// races to it, so sanitizer-thread builds test only the others.
template <class L>
inline constexpr bool kTsanVisible = true;
template <> inline constexpr bool kTsanVisible<AbslMutexLock> = false;
template <> inline constexpr bool kTsanVisible<AbslNoDeadlockLock> = false;
template <> inline constexpr bool kTsanVisible<AbslSpinLock> = false;
template <> inline constexpr bool kTsanVisible<TbbSpinLock> = false;
template <> inline constexpr bool kTsanVisible<TbbQueuingLock> = false;
template <> inline constexpr bool kTsanVisible<CkFasLock> = false;
template <> inline constexpr bool kTsanVisible<CkTicketLock> = false;
template <> inline constexpr bool kTsanVisible<CkMcsLock> = false;

// Every lock that runs in the main benchmark program, ours first.
using AllLocks = LockList<OursLock, OursHoldTimedLock, TtasLock, PthreadSpinLock, PthreadMutexLock,
                          PthreadAdaptiveLock, StdMutexLock, AbslMutexLock, AbslSpinLock, TbbSpinLock,
                          TbbQueuingLock, CkFasLock, CkTicketLock, CkMcsLock>;

// Calls begin_run()/end_run() when the adapter has them.
template <class L>
void begin_run() {
  if constexpr (requires { L::begin_run(); }) L::begin_run();
}
template <class L>
void end_run() {
  if constexpr (requires { L::end_run(); }) L::end_run();
}

}  // namespace smplock::bench
