// The interposed calls: pthread mutex, rwlock, spin lock and condition wait, and C11 mtx/cnd. Each
// finds the real function with dlsym(RTLD_NEXT) (so another preloaded library below us still sees
// the call), and around it tells the runtime what was acquired or released. A blocking acquisition
// first tries the lock: a failed try is what "contended" means, and only then is the wait timed.
//
// Bootstrap: dlsym may itself allocate and lock, and the program may lock before our constructor
// runs. The real functions are resolved once, with the runtime marked "inside" (so recursive calls
// pass straight through); a call that arrives while they are being resolved uses glibc's exported
// __pthread_* aliases where there are any.
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

#include "enforce.hpp"
#include "runtime.hpp"
#include "signals.hpp"

#define SMPLOCK_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" {
int __pthread_mutex_lock(pthread_mutex_t*);
int __pthread_mutex_trylock(pthread_mutex_t*);
int __pthread_mutex_unlock(pthread_mutex_t*);
int __pthread_mutex_init(pthread_mutex_t*, const pthread_mutexattr_t*);
int __pthread_mutex_destroy(pthread_mutex_t*);
int __pthread_rwlock_rdlock(pthread_rwlock_t*);
int __pthread_rwlock_wrlock(pthread_rwlock_t*);
int __pthread_rwlock_tryrdlock(pthread_rwlock_t*);
int __pthread_rwlock_trywrlock(pthread_rwlock_t*);
int __pthread_rwlock_unlock(pthread_rwlock_t*);
int __pthread_rwlock_init(pthread_rwlock_t*, const pthread_rwlockattr_t*);
int __pthread_rwlock_destroy(pthread_rwlock_t*);
}

namespace smplock::record {
namespace {

// --- the real functions --------------------------------------------------------------------------

#define SMPLOCK_REAL_LIST(X)                                                                              \
  X(mutex_lock, "pthread_mutex_lock", int (*)(pthread_mutex_t*), __pthread_mutex_lock)                   \
  X(mutex_trylock, "pthread_mutex_trylock", int (*)(pthread_mutex_t*), __pthread_mutex_trylock)          \
  X(mutex_timedlock, "pthread_mutex_timedlock", int (*)(pthread_mutex_t*, const timespec*), nullptr)     \
  X(mutex_clocklock, "pthread_mutex_clocklock", int (*)(pthread_mutex_t*, clockid_t, const timespec*), nullptr) \
  X(mutex_unlock, "pthread_mutex_unlock", int (*)(pthread_mutex_t*), __pthread_mutex_unlock)             \
  X(mutex_init, "pthread_mutex_init", int (*)(pthread_mutex_t*, const pthread_mutexattr_t*), __pthread_mutex_init) \
  X(mutex_destroy, "pthread_mutex_destroy", int (*)(pthread_mutex_t*), __pthread_mutex_destroy)          \
  X(rw_rdlock, "pthread_rwlock_rdlock", int (*)(pthread_rwlock_t*), __pthread_rwlock_rdlock)             \
  X(rw_tryrdlock, "pthread_rwlock_tryrdlock", int (*)(pthread_rwlock_t*), __pthread_rwlock_tryrdlock)    \
  X(rw_timedrdlock, "pthread_rwlock_timedrdlock", int (*)(pthread_rwlock_t*, const timespec*), nullptr)  \
  X(rw_clockrdlock, "pthread_rwlock_clockrdlock", int (*)(pthread_rwlock_t*, clockid_t, const timespec*), nullptr) \
  X(rw_wrlock, "pthread_rwlock_wrlock", int (*)(pthread_rwlock_t*), __pthread_rwlock_wrlock)             \
  X(rw_trywrlock, "pthread_rwlock_trywrlock", int (*)(pthread_rwlock_t*), __pthread_rwlock_trywrlock)    \
  X(rw_timedwrlock, "pthread_rwlock_timedwrlock", int (*)(pthread_rwlock_t*, const timespec*), nullptr)  \
  X(rw_clockwrlock, "pthread_rwlock_clockwrlock", int (*)(pthread_rwlock_t*, clockid_t, const timespec*), nullptr) \
  X(rw_unlock, "pthread_rwlock_unlock", int (*)(pthread_rwlock_t*), __pthread_rwlock_unlock)             \
  X(rw_init, "pthread_rwlock_init", int (*)(pthread_rwlock_t*, const pthread_rwlockattr_t*), __pthread_rwlock_init) \
  X(rw_destroy, "pthread_rwlock_destroy", int (*)(pthread_rwlock_t*), __pthread_rwlock_destroy)          \
  X(spin_lock, "pthread_spin_lock", int (*)(pthread_spinlock_t*), nullptr)                               \
  X(spin_trylock, "pthread_spin_trylock", int (*)(pthread_spinlock_t*), nullptr)                         \
  X(spin_unlock, "pthread_spin_unlock", int (*)(pthread_spinlock_t*), nullptr)                           \
  X(spin_init, "pthread_spin_init", int (*)(pthread_spinlock_t*, int), nullptr)                          \
  X(spin_destroy, "pthread_spin_destroy", int (*)(pthread_spinlock_t*), nullptr)                         \
  X(cond_wait, "pthread_cond_wait", int (*)(pthread_cond_t*, pthread_mutex_t*), nullptr)                 \
  X(cond_timedwait, "pthread_cond_timedwait", int (*)(pthread_cond_t*, pthread_mutex_t*, const timespec*), nullptr) \
  X(cond_clockwait, "pthread_cond_clockwait", int (*)(pthread_cond_t*, pthread_mutex_t*, clockid_t, const timespec*), nullptr) \
  X(mtx_lock, "mtx_lock", int (*)(mtx_t*), nullptr)                                                      \
  X(mtx_trylock, "mtx_trylock", int (*)(mtx_t*), nullptr)                                                \
  X(mtx_timedlock, "mtx_timedlock", int (*)(mtx_t*, const timespec*), nullptr)                           \
  X(mtx_unlock, "mtx_unlock", int (*)(mtx_t*), nullptr)                                                  \
  X(mtx_init, "mtx_init", int (*)(mtx_t*, int), nullptr)                                                 \
  X(mtx_destroy, "mtx_destroy", void (*)(mtx_t*), nullptr)                                               \
  X(cnd_wait, "cnd_wait", int (*)(cnd_t*, mtx_t*), nullptr)                                              \
  X(cnd_timedwait, "cnd_timedwait", int (*)(cnd_t*, mtx_t*, const timespec*), nullptr)

struct Reals {
#define SMPLOCK_FIELD(field, name, type, boot) std::atomic<type> field{nullptr};
  SMPLOCK_REAL_LIST(SMPLOCK_FIELD)
#undef SMPLOCK_FIELD
};
Reals g_real;

// 0: not resolved; 1: being resolved (by g_resolver); 2: resolved.
std::atomic<int> g_resolved{0};
std::atomic<pid_t> g_resolver{0};

void* find(const char* name) {
#if defined(__x86_64__) && defined(__GLIBC__)
  // dlsym would give the condition variables' old 2.2.5 versions, not the ones programs link to.
  if (name[8] == 'c' && name[9] == 'o' && name[10] == 'n' && name[11] == 'd') {
    if (void* f = dlvsym(RTLD_NEXT, name, "GLIBC_2.3.2")) return f;
  }
#endif
  return dlsym(RTLD_NEXT, name);
}

void resolve_all() {
  int expected = 0;
  const auto me = static_cast<pid_t>(syscall(SYS_gettid));
  if (!g_resolved.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    // Someone else resolves: wait for them, unless it is this thread (dlsym calling back into us).
    while (g_resolved.load(std::memory_order_acquire) != 2 && g_resolver.load(std::memory_order_relaxed) != me) sched_yield();
    return;
  }
  g_resolver.store(me, std::memory_order_relaxed);
  {
    Inside in;
#define SMPLOCK_RESOLVE(field, name, type, boot) \
  g_real.field.store(reinterpret_cast<type>(find(name)), std::memory_order_release);
    SMPLOCK_REAL_LIST(SMPLOCK_RESOLVE)
#undef SMPLOCK_RESOLVE
  }
  g_resolver.store(0, std::memory_order_relaxed);
  g_resolved.store(2, std::memory_order_release);
}

// The real function: resolved on first use if the constructor has not run yet; while resolving,
// glibc's alias (or a direct lookup for the few calls that have none).
template <typename F>
F real(std::atomic<F>& slot, F boot, const char* name) {
  F f = slot.load(std::memory_order_relaxed);
  if (__builtin_expect(f != nullptr, 1)) return f;
  resolve_all();
  f = slot.load(std::memory_order_acquire);
  if (f != nullptr) return f;
  if (boot != nullptr) return boot;
  return reinterpret_cast<F>(find(name));
}

#define REAL(field, name, boot) real(g_real.field, static_cast<decltype(g_real.field.load())>(boot), name)

inline std::uintptr_t caller() { return reinterpret_cast<std::uintptr_t>(__builtin_return_address(0)); }

// A recursive mutex is told apart by glibc's kind field (std::recursive_mutex and
// PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP make one without an init call).
inline Kind mutex_kind(const pthread_mutex_t* m, Kind plain) {
#ifdef __GLIBC__
  return (m->__data.__kind & 3) == PTHREAD_MUTEX_RECURSIVE_NP ? Kind::Recursive : plain;
#else
  return plain;
#endif
}

// A blocking acquisition: try first; a failed try is contention, and the wait is timed.
template <typename Try, typename Lock>
inline int acquire(Thread* t, const void* lock, Acquire a, int ok, int ok2, int busy, Try&& try_fn, Lock&& lock_fn) {
  const std::uint32_t cls = instance_of(lock, a.kind, a.pc, false);
  if (g_enforcing) check_order(t, lock, cls, a);  // before the call can wait
  int r = try_fn();
  if (r == busy) {
    a.contended = true;
    const std::uint64_t t0 = now_ns();
    r = lock_fn();
    a.wait_ns = now_ns() - t0;
  } else if (r != ok && r != ok2) {
    r = lock_fn();  // anything else (EAGAIN, EINVAL...): the real call gives its own answer
  }
  if (r == ok || r == ok2) after_acquire(t, lock, cls, a);
  return r;
}

template <typename Try>
inline int try_acquire(Thread* t, const void* lock, Acquire a, int ok, int ok2, Try&& try_fn) {
  a.trylock = true;
  const std::uint32_t cls = instance_of(lock, a.kind, a.pc, false);
  const int r = try_fn();
  if (r == ok || r == ok2) after_acquire(t, lock, cls, a);
  return r;
}

// A condition wait releases the mutex and takes it again before it returns.
template <typename Wait>
inline int wait_on(Thread* t, const void* lock, Kind kind, std::uintptr_t pc, int ok, int timed_out, Wait&& wait_fn) {
  const bool held = before_release(t, lock);
  const int r = wait_fn();
  // A wait that timed out has taken the mutex again too.
  if (held && (r == ok || r == timed_out)) {
    Acquire a{kind};
    a.pc = pc;
    after_acquire(t, lock, instance_of(lock, kind, pc, false), a);
  }
  return r;
}

// A spin lock is a volatile int: its address, as the runtime keys locks.
inline const void* spin_id(pthread_spinlock_t* l) { return reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(l)); }

Acquire make(Kind k, std::uintptr_t pc, bool read = false) {
  Acquire a{k};
  a.pc = pc;
  a.read = read;
  return a;
}

}  // namespace
}  // namespace smplock::record

using namespace smplock::record;

// --- pthread mutex -------------------------------------------------------------------------------

SMPLOCK_EXPORT int pthread_mutex_lock(pthread_mutex_t* m) {
  auto lock = REAL(mutex_lock, "pthread_mutex_lock", __pthread_mutex_lock);
  Thread* t = self();
  if (t == nullptr) return lock(m);
  auto trylock = REAL(mutex_trylock, "pthread_mutex_trylock", __pthread_mutex_trylock);
  return acquire(t, m, make(mutex_kind(m, Kind::Mutex), caller()), 0, EOWNERDEAD, EBUSY,
                 [&] { return trylock(m); }, [&] { return lock(m); });
}

SMPLOCK_EXPORT int pthread_mutex_trylock(pthread_mutex_t* m) {
  auto trylock = REAL(mutex_trylock, "pthread_mutex_trylock", __pthread_mutex_trylock);
  Thread* t = self();
  if (t == nullptr) return trylock(m);
  return try_acquire(t, m, make(mutex_kind(m, Kind::Mutex), caller()), 0, EOWNERDEAD, [&] { return trylock(m); });
}

SMPLOCK_EXPORT int pthread_mutex_timedlock(pthread_mutex_t* m, const timespec* abstime) {
  auto timed = REAL(mutex_timedlock, "pthread_mutex_timedlock", nullptr);
  Thread* t = self();
  if (t == nullptr) return timed(m, abstime);
  auto trylock = REAL(mutex_trylock, "pthread_mutex_trylock", __pthread_mutex_trylock);
  return acquire(t, m, make(mutex_kind(m, Kind::Mutex), caller()), 0, EOWNERDEAD, EBUSY,
                 [&] { return trylock(m); }, [&] { return timed(m, abstime); });
}

SMPLOCK_EXPORT int pthread_mutex_clocklock(pthread_mutex_t* m, clockid_t clock, const timespec* abstime) {
  auto timed = REAL(mutex_clocklock, "pthread_mutex_clocklock", nullptr);
  Thread* t = self();
  if (t == nullptr) return timed(m, clock, abstime);
  auto trylock = REAL(mutex_trylock, "pthread_mutex_trylock", __pthread_mutex_trylock);
  return acquire(t, m, make(mutex_kind(m, Kind::Mutex), caller()), 0, EOWNERDEAD, EBUSY,
                 [&] { return trylock(m); }, [&] { return timed(m, clock, abstime); });
}

SMPLOCK_EXPORT int pthread_mutex_unlock(pthread_mutex_t* m) {
  auto unlock = REAL(mutex_unlock, "pthread_mutex_unlock", __pthread_mutex_unlock);
  if (Thread* t = self()) before_release(t, m);
  return unlock(m);
}

SMPLOCK_EXPORT int pthread_mutex_init(pthread_mutex_t* m, const pthread_mutexattr_t* attr) {
  auto init = REAL(mutex_init, "pthread_mutex_init", __pthread_mutex_init);
  const int r = init(m, attr);
  if (r == 0 && self() != nullptr) instance_of(m, mutex_kind(m, Kind::Mutex), caller(), true);
  return r;
}

SMPLOCK_EXPORT int pthread_mutex_destroy(pthread_mutex_t* m) {
  auto destroy = REAL(mutex_destroy, "pthread_mutex_destroy", __pthread_mutex_destroy);
  if (self() != nullptr) forget_instance(m);
  return destroy(m);
}

// --- pthread rwlock ------------------------------------------------------------------------------

SMPLOCK_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t* l) {
  auto lock = REAL(rw_rdlock, "pthread_rwlock_rdlock", __pthread_rwlock_rdlock);
  Thread* t = self();
  if (t == nullptr) return lock(l);
  auto trylock = REAL(rw_tryrdlock, "pthread_rwlock_tryrdlock", __pthread_rwlock_tryrdlock);
  return acquire(t, l, make(Kind::Rwlock, caller(), true), 0, 0, EBUSY, [&] { return trylock(l); }, [&] { return lock(l); });
}

SMPLOCK_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t* l) {
  auto trylock = REAL(rw_tryrdlock, "pthread_rwlock_tryrdlock", __pthread_rwlock_tryrdlock);
  Thread* t = self();
  if (t == nullptr) return trylock(l);
  return try_acquire(t, l, make(Kind::Rwlock, caller(), true), 0, 0, [&] { return trylock(l); });
}

SMPLOCK_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t* l, const timespec* abstime) {
  auto timed = REAL(rw_timedrdlock, "pthread_rwlock_timedrdlock", nullptr);
  Thread* t = self();
  if (t == nullptr) return timed(l, abstime);
  auto trylock = REAL(rw_tryrdlock, "pthread_rwlock_tryrdlock", __pthread_rwlock_tryrdlock);
  return acquire(t, l, make(Kind::Rwlock, caller(), true), 0, 0, EBUSY, [&] { return trylock(l); },
                 [&] { return timed(l, abstime); });
}

SMPLOCK_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t* l, clockid_t clock, const timespec* abstime) {
  auto timed = REAL(rw_clockrdlock, "pthread_rwlock_clockrdlock", nullptr);
  Thread* t = self();
  if (t == nullptr) return timed(l, clock, abstime);
  auto trylock = REAL(rw_tryrdlock, "pthread_rwlock_tryrdlock", __pthread_rwlock_tryrdlock);
  return acquire(t, l, make(Kind::Rwlock, caller(), true), 0, 0, EBUSY, [&] { return trylock(l); },
                 [&] { return timed(l, clock, abstime); });
}

SMPLOCK_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t* l) {
  auto lock = REAL(rw_wrlock, "pthread_rwlock_wrlock", __pthread_rwlock_wrlock);
  Thread* t = self();
  if (t == nullptr) return lock(l);
  auto trylock = REAL(rw_trywrlock, "pthread_rwlock_trywrlock", __pthread_rwlock_trywrlock);
  return acquire(t, l, make(Kind::Rwlock, caller()), 0, 0, EBUSY, [&] { return trylock(l); }, [&] { return lock(l); });
}

SMPLOCK_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t* l) {
  auto trylock = REAL(rw_trywrlock, "pthread_rwlock_trywrlock", __pthread_rwlock_trywrlock);
  Thread* t = self();
  if (t == nullptr) return trylock(l);
  return try_acquire(t, l, make(Kind::Rwlock, caller()), 0, 0, [&] { return trylock(l); });
}

SMPLOCK_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t* l, const timespec* abstime) {
  auto timed = REAL(rw_timedwrlock, "pthread_rwlock_timedwrlock", nullptr);
  Thread* t = self();
  if (t == nullptr) return timed(l, abstime);
  auto trylock = REAL(rw_trywrlock, "pthread_rwlock_trywrlock", __pthread_rwlock_trywrlock);
  return acquire(t, l, make(Kind::Rwlock, caller()), 0, 0, EBUSY, [&] { return trylock(l); },
                 [&] { return timed(l, abstime); });
}

SMPLOCK_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t* l, clockid_t clock, const timespec* abstime) {
  auto timed = REAL(rw_clockwrlock, "pthread_rwlock_clockwrlock", nullptr);
  Thread* t = self();
  if (t == nullptr) return timed(l, clock, abstime);
  auto trylock = REAL(rw_trywrlock, "pthread_rwlock_trywrlock", __pthread_rwlock_trywrlock);
  return acquire(t, l, make(Kind::Rwlock, caller()), 0, 0, EBUSY, [&] { return trylock(l); },
                 [&] { return timed(l, clock, abstime); });
}

SMPLOCK_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t* l) {
  auto unlock = REAL(rw_unlock, "pthread_rwlock_unlock", __pthread_rwlock_unlock);
  if (Thread* t = self()) before_release(t, l);
  return unlock(l);
}

SMPLOCK_EXPORT int pthread_rwlock_init(pthread_rwlock_t* l, const pthread_rwlockattr_t* attr) {
  auto init = REAL(rw_init, "pthread_rwlock_init", __pthread_rwlock_init);
  const int r = init(l, attr);
  if (r == 0 && self() != nullptr) instance_of(l, Kind::Rwlock, caller(), true);
  return r;
}

SMPLOCK_EXPORT int pthread_rwlock_destroy(pthread_rwlock_t* l) {
  auto destroy = REAL(rw_destroy, "pthread_rwlock_destroy", __pthread_rwlock_destroy);
  if (self() != nullptr) forget_instance(l);
  return destroy(l);
}

// --- pthread spin lock ---------------------------------------------------------------------------

SMPLOCK_EXPORT int pthread_spin_lock(pthread_spinlock_t* l) {
  auto lock = REAL(spin_lock, "pthread_spin_lock", nullptr);
  Thread* t = self();
  if (t == nullptr) return lock(l);
  auto trylock = REAL(spin_trylock, "pthread_spin_trylock", nullptr);
  return acquire(t, spin_id(l), make(Kind::Spin, caller()), 0, 0, EBUSY,
                 [&] { return trylock(l); }, [&] { return lock(l); });
}

SMPLOCK_EXPORT int pthread_spin_trylock(pthread_spinlock_t* l) {
  auto trylock = REAL(spin_trylock, "pthread_spin_trylock", nullptr);
  Thread* t = self();
  if (t == nullptr) return trylock(l);
  return try_acquire(t, spin_id(l), make(Kind::Spin, caller()), 0, 0, [&] { return trylock(l); });
}

SMPLOCK_EXPORT int pthread_spin_unlock(pthread_spinlock_t* l) {
  auto unlock = REAL(spin_unlock, "pthread_spin_unlock", nullptr);
  if (Thread* t = self()) before_release(t, spin_id(l));
  return unlock(l);
}

SMPLOCK_EXPORT int pthread_spin_init(pthread_spinlock_t* l, int pshared) {
  auto init = REAL(spin_init, "pthread_spin_init", nullptr);
  const int r = init(l, pshared);
  if (r == 0 && self() != nullptr) instance_of(spin_id(l), Kind::Spin, caller(), true);
  return r;
}

SMPLOCK_EXPORT int pthread_spin_destroy(pthread_spinlock_t* l) {
  auto destroy = REAL(spin_destroy, "pthread_spin_destroy", nullptr);
  if (self() != nullptr) forget_instance(spin_id(l));
  return destroy(l);
}

// --- condition waits ----------------------------------------------------------------------------

SMPLOCK_EXPORT int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m) {
  auto wait = REAL(cond_wait, "pthread_cond_wait", nullptr);
  Thread* t = self();
  if (t == nullptr) return wait(c, m);
  return wait_on(t, m, mutex_kind(m, Kind::Mutex), caller(), 0, ETIMEDOUT, [&] { return wait(c, m); });
}

SMPLOCK_EXPORT int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const timespec* abstime) {
  auto wait = REAL(cond_timedwait, "pthread_cond_timedwait", nullptr);
  Thread* t = self();
  if (t == nullptr) return wait(c, m, abstime);
  return wait_on(t, m, mutex_kind(m, Kind::Mutex), caller(), 0, ETIMEDOUT, [&] { return wait(c, m, abstime); });
}

SMPLOCK_EXPORT int pthread_cond_clockwait(pthread_cond_t* c, pthread_mutex_t* m, clockid_t clock, const timespec* abstime) {
  auto wait = REAL(cond_clockwait, "pthread_cond_clockwait", nullptr);
  Thread* t = self();
  if (t == nullptr) return wait(c, m, clock, abstime);
  return wait_on(t, m, mutex_kind(m, Kind::Mutex), caller(), 0, ETIMEDOUT, [&] { return wait(c, m, clock, abstime); });
}

// --- C11 threads ---------------------------------------------------------------------------------

SMPLOCK_EXPORT int mtx_lock(mtx_t* m) {
  auto lock = REAL(mtx_lock, "mtx_lock", nullptr);
  Thread* t = self();
  if (t == nullptr) return lock(m);
  auto trylock = REAL(mtx_trylock, "mtx_trylock", nullptr);
  return acquire(t, m, make(mutex_kind(reinterpret_cast<pthread_mutex_t*>(m), Kind::Mtx), caller()), thrd_success,
                 thrd_success, thrd_busy, [&] { return trylock(m); }, [&] { return lock(m); });
}

SMPLOCK_EXPORT int mtx_trylock(mtx_t* m) {
  auto trylock = REAL(mtx_trylock, "mtx_trylock", nullptr);
  Thread* t = self();
  if (t == nullptr) return trylock(m);
  return try_acquire(t, m, make(mutex_kind(reinterpret_cast<pthread_mutex_t*>(m), Kind::Mtx), caller()), thrd_success,
                     thrd_success, [&] { return trylock(m); });
}

SMPLOCK_EXPORT int mtx_timedlock(mtx_t* __restrict m, const timespec* __restrict abstime) {
  auto timed = REAL(mtx_timedlock, "mtx_timedlock", nullptr);
  Thread* t = self();
  if (t == nullptr) return timed(m, abstime);
  auto trylock = REAL(mtx_trylock, "mtx_trylock", nullptr);
  return acquire(t, m, make(mutex_kind(reinterpret_cast<pthread_mutex_t*>(m), Kind::Mtx), caller()), thrd_success,
                 thrd_success, thrd_busy, [&] { return trylock(m); }, [&] { return timed(m, abstime); });
}

SMPLOCK_EXPORT int mtx_unlock(mtx_t* m) {
  auto unlock = REAL(mtx_unlock, "mtx_unlock", nullptr);
  if (Thread* t = self()) before_release(t, m);
  return unlock(m);
}

SMPLOCK_EXPORT int mtx_init(mtx_t* m, int type) {
  auto init = REAL(mtx_init, "mtx_init", nullptr);
  const int r = init(m, type);
  if (r == thrd_success && self() != nullptr)
    instance_of(m, (type & mtx_recursive) != 0 ? Kind::Recursive : Kind::Mtx, caller(), true);
  return r;
}

SMPLOCK_EXPORT void mtx_destroy(mtx_t* m) {
  auto destroy = REAL(mtx_destroy, "mtx_destroy", nullptr);
  if (self() != nullptr) forget_instance(m);
  destroy(m);
}

SMPLOCK_EXPORT int cnd_wait(cnd_t* c, mtx_t* m) {
  auto wait = REAL(cnd_wait, "cnd_wait", nullptr);
  Thread* t = self();
  if (t == nullptr) return wait(c, m);
  return wait_on(t, m, mutex_kind(reinterpret_cast<pthread_mutex_t*>(m), Kind::Mtx), caller(), thrd_success,
                 thrd_timedout, [&] { return wait(c, m); });
}

SMPLOCK_EXPORT int cnd_timedwait(cnd_t* __restrict c, mtx_t* __restrict m, const timespec* __restrict abstime) {
  auto wait = REAL(cnd_timedwait, "cnd_timedwait", nullptr);
  Thread* t = self();
  if (t == nullptr) return wait(c, m, abstime);
  return wait_on(t, m, mutex_kind(reinterpret_cast<pthread_mutex_t*>(m), Kind::Mtx), caller(), thrd_success,
                 thrd_timedout, [&] { return wait(c, m, abstime); });
}

// --- load and exit -------------------------------------------------------------------------------

__attribute__((constructor)) static void smplock_record_load() {
  resolve_all();
  start_stacks();
  start_runtime();
  start_signals();  // after start_runtime: handlers only when a trace is recorded
}

__attribute__((destructor)) static void smplock_record_exit() {
  enforce_exit();
  if (g_recording) write_trace();
}
