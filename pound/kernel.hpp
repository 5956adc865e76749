// pound/kernel.hpp: the workload's internals shared by its sources. Not installed.
//
//   LockSet      makes the lock of a role for each new kernel object, from a lock set's table.
//   LockTrace    what one CPU thread is waiting for and holding, for the timer thread's samples.
//   Held         RAII for a role's lock that may be absent (a lock-free role); keeps the CPU's
//                LockTrace.
//   KernelPool   where the kernel's memory comes from: the locked pool (one NP lock on every call,
//                quota under QU) or npp (lock-free fast path, npp::Quota).
//   Quota        one process's quota, whichever pool charges it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <source_location>
#include <vector>

#include "smplock/lock.hpp"
#include "smplock/pound.hpp"

#if SMPLOCK_POUND_HAVE_NPP
#include "smplock/npp.hpp"
#endif

namespace smplock::pound::detail {

class LockSet {
 public:
  explicit LockSet(LockSetKind kind);
  LockSet(const LockSet&) = delete;
  LockSet& operator=(const LockSet&) = delete;

  // The lock for a new object of `role`: its own, the role's shared one, or nullptr when the
  // role is lock-free in this set. Setup only (not thread-safe).
  Lock* make(Role role);
  // The lock every system call and lowipl routine takes for its whole length: giant's one lock
  // ("whenever you enter kernel mode, acquire the smplock"), nullptr for the other sets.
  Lock* kernel_lock();
  LockSetKind kind() const { return kind_; }
  std::size_t locks() const { return locks_.size(); }

 private:
  LockSetKind kind_;
  const std::array<RoleLock, kRoles>& table_;
  std::deque<Lock> locks_;    // a deque never moves what it holds
  std::vector<Lock*> shared_;
};

// What one CPU thread is waiting for and which locks it holds, written by that thread only
// (relaxed stores to its own line: a few plain moves per acquire) and read by the timer thread's
// sampler, which compares them with how much processor time each thread got in the last tick to
// tell waits behind a running holder from waits behind a preempted one (run.cpp). An interrupt
// handler or lowipl routine running on the thread pushes and pops above what it interrupted, so
// the stack stays whole; a sample may miss an entry for an instant, which is all it costs.
struct alignas(64) LockTrace {
  static constexpr unsigned kDepth = 12;
  std::atomic<const Lock*> waiting{nullptr};
  std::atomic<unsigned> depth{0};
  std::atomic<const Lock*> held[kDepth]{};

  void push(const Lock* l) {
    const unsigned d = depth.load(std::memory_order_relaxed);
    if (d < kDepth) held[d].store(l, std::memory_order_relaxed);
    depth.store(d + 1, std::memory_order_relaxed);
  }
  void pop(const Lock* l) {
    const unsigned d = depth.load(std::memory_order_relaxed);
    if (d == 0) return;
    if (d <= kDepth && held[d - 1].load(std::memory_order_relaxed) != l) {
      // Released out of order: move the top entry into the released one's slot.
      for (unsigned i = d - 1; i-- > 0;)
        if (held[i].load(std::memory_order_relaxed) == l) {
          held[i].store(held[d - 1].load(std::memory_order_relaxed), std::memory_order_relaxed);
          break;
        }
    }
    depth.store(d - 1, std::memory_order_relaxed);
  }
};

// The running CPU thread's trace (null on other threads: setup, teardown, tests).
inline constinit thread_local LockTrace* t_lock_trace = nullptr;

// Takes a role's lock (if the role has one) for a scope; release() ends it early.
class [[nodiscard]] Held {
 public:
  // A wrapper the reports see through: it takes the caller's source_location and passes it to
  // acquire(), so a contended acquire's call site (in the statistics) and "acquired at" (in a crash
  // report) are the kernel subsystem's line that makes the Held, not this constructor.
  [[gnu::always_inline]] explicit Held(Lock* lock, std::source_location where = std::source_location::current())
      : lock_(lock) {
    if (lock_ == nullptr) return;
    LockTrace* trace = t_lock_trace;
    if (trace != nullptr) trace->waiting.store(lock_, std::memory_order_relaxed);
    previous_ = lock_->acquire(where);
    if (trace != nullptr) {
      trace->waiting.store(nullptr, std::memory_order_relaxed);
      trace->push(lock_);
    }
  }
  [[gnu::always_inline]] ~Held() { release(); }
  [[gnu::always_inline]] void release() {
    if (lock_ == nullptr) return;
    if (LockTrace* trace = t_lock_trace; trace != nullptr) trace->pop(lock_);
    lock_->release(previous_);
    lock_ = nullptr;
  }
  Held(const Held&) = delete;
  Held& operator=(const Held&) = delete;

 private:
  Lock* lock_;
  Level previous_ = Level::Null;
};

struct Quota {
  explicit Quota(std::size_t limit) : limit(limit) {}
  const std::size_t limit;
  Lock* qu = nullptr;       // the QU lock where the set has one
  std::size_t used = 0;     // under qu (locked pool)
#if SMPLOCK_POUND_HAVE_NPP
  npp::Quota npp{limit};    // lock-free (npp pool)
#endif
};

class KernelPool {
 public:
  virtual ~KernelPool() = default;
  // A block of `size` bytes charged to `quota` (if given); nullptr when the charge fails.
  virtual void* alloc(std::size_t size, Quota* quota) = 0;
  // Frees a block, crediting `quota` with what alloc charged.
  virtual void free(void* p, Quota* quota) = 0;
  // What alloc(size, quota) charges.
  virtual std::size_t charged_size(std::size_t size) const = 0;
  // Charges and credits without a block (physical pages).
  virtual bool charge(Quota& quota, std::size_t bytes) = 0;
  virtual void credit(Quota& quota, std::size_t bytes) = 0;
  virtual std::size_t used(const Quota& quota) const = 0;
  // Blocks handed out and not freed since the pool was made (or since mark()).
  virtual std::int64_t live_blocks() const = 0;
  virtual void mark() = 0;
  virtual PoolFigures figures() const = 0;
  // Called on each CPU before the run: sets up whatever the pool keeps per CPU or per thread, so
  // its first use is never inside a lowipl routine run from the interrupt signal.
  virtual void prepare_cpu() {}
};

// The pool of a lock set: the locked pool for giant and coarse, npp for ozone.
std::unique_ptr<KernelPool> make_pool(LockSet& locks);

}  // namespace smplock::pound::detail
