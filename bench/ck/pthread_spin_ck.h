/* bench/ck/pthread_spin_ck.h: Concurrency Kit's spinlock-benchmark macros mapped onto glibc's
 * pthread_spinlock_t (issue 16), a peer the harness lacks (CK's own regressions/ck_spinlock/pthread.h
 * is pthread_mutex_t). Passed with `-include` by bench/ck/build.sh, like bench/ck/ours_ck.h. */
#ifndef SMPLOCK_BENCH_CK_PTHREAD_SPIN_CK_H
#define SMPLOCK_BENCH_CK_PTHREAD_SPIN_CK_H

#include <pthread.h>

#define LOCK_NAME "pthread_spin"
#define LOCK_DEFINE static pthread_spinlock_t lock __attribute__((aligned(64)))
#define LOCK_INIT pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE)
#define LOCK pthread_spin_lock(&lock)
#define UNLOCK pthread_spin_unlock(&lock)

#endif
