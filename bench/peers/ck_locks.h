/* bench/peers/ck_locks.h: Concurrency Kit's fas, ticket and MCS spinlocks, callable from C++.
 *
 *   SmplockCkWord   opaque storage big enough for any of the three lock words or an MCS node.
 *   smplock_ck_*    init/lock/unlock for each lock.
 *
 * Concurrency Kit's headers are C that C++ compilers reject (implicit void* conversions), so the
 * calls live in ck_locks.c and the benchmark programs are built with link-time optimisation, which
 * inlines these small functions back into the C++ callers. Not part of the library. */
#ifndef SMPLOCK_BENCH_CK_LOCKS_H
#define SMPLOCK_BENCH_CK_LOCKS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Two 8-byte words: ck_spinlock_ticket_t is one 64-bit word on x86-64, an MCS node is a flag and a
 * pointer. ck_locks.c checks the sizes at compile time. */
typedef struct SmplockCkWord {
  uint64_t words[2];
} SmplockCkWord;

void smplock_ck_fas_init(SmplockCkWord* lock);
void smplock_ck_fas_lock(SmplockCkWord* lock);
void smplock_ck_fas_unlock(SmplockCkWord* lock);

void smplock_ck_ticket_init(SmplockCkWord* lock);
void smplock_ck_ticket_lock(SmplockCkWord* lock);
void smplock_ck_ticket_unlock(SmplockCkWord* lock);

/* MCS: the lock is a queue tail pointer; each acquisition brings its own node, which must stay put
 * until the matching unlock. */
void smplock_ck_mcs_init(SmplockCkWord* lock);
void smplock_ck_mcs_lock(SmplockCkWord* lock, SmplockCkWord* node);
void smplock_ck_mcs_unlock(SmplockCkWord* lock, SmplockCkWord* node);

#ifdef __cplusplus
}
#endif

#endif
