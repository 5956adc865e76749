/* bench/ck/ours_ck.h: Concurrency Kit's spinlock-benchmark macros mapped onto smplock::Lock (issue 16).
 *
 * CK's harness (regressions/ck_spinlock/benchmark/latency.h and throughput.h in a CK checkout) is
 * written against five macros that each lock's header defines (regressions/ck_spinlock/ck_fas.h and
 * its siblings): LOCK_NAME, LOCK_DEFINE (the lock, at file scope), LOCK_STATE (a thread's local
 * state, declared where the thread runs), LOCK, UNLOCK, and optionally LOCK_INIT and LOCKED.
 * bench/ck/build.sh passes this header with `-include` in place of ck_fas.h; nothing of the harness
 * is copied here.
 *
 * The harness is C, smplock is C++20: the Lock itself (a global, cache-line aligned like CK's) and
 * three extern "C" calls live in bench/ck/ours_shim.cpp, and both are built with link-time
 * optimisation, which inlines Lock::acquire()/release() back into the harness's loop (build.sh
 * checks the disassembly for a left-over call). LOCK_STATE holds the level that acquire() returns
 * and release() needs: what a caller of Lock keeps on its own stack (unused where the harness only
 * locks: its gen_lock(), kept for disassembly, never called). Every rule is checked as in any
 * Release build of the library; the lock has a real level (bench/ck/ours_shim.cpp says which). */
#ifndef SMPLOCK_BENCH_CK_OURS_CK_H
#define SMPLOCK_BENCH_CK_OURS_CK_H

unsigned char smplock_ck_acquire(void);
void smplock_ck_release(unsigned char previous);
int smplock_ck_locked(void);

#define LOCK_NAME "smplock"
/* The lock lives in the shim; a file-scope declaration keeps `LOCK_DEFINE;` valid C. */
#define LOCK_DEFINE extern int smplock_ck_lock_is_in_the_shim
#define LOCK_STATE unsigned char smplock_ck_previous __attribute__((unused)) = 0
#define LOCK (smplock_ck_previous = smplock_ck_acquire())
#define UNLOCK smplock_ck_release(smplock_ck_previous)
#define LOCKED smplock_ck_locked()

#endif
