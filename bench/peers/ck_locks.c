/* bench/peers/ck_locks.c: thin C wrappers over Concurrency Kit's spinlocks (see ck_locks.h). */
#include "ck_locks.h"

#include <ck_spinlock.h>

_Static_assert(sizeof(ck_spinlock_fas_t) <= sizeof(SmplockCkWord), "fas lock fits");
_Static_assert(sizeof(ck_spinlock_ticket_t) <= sizeof(SmplockCkWord), "ticket lock fits");
_Static_assert(_Alignof(ck_spinlock_ticket_t) <= _Alignof(SmplockCkWord), "ticket lock aligned");
_Static_assert(sizeof(ck_spinlock_mcs_t) <= sizeof(SmplockCkWord), "mcs tail fits");
_Static_assert(sizeof(struct ck_spinlock_mcs) <= sizeof(SmplockCkWord), "mcs node fits");
_Static_assert(_Alignof(struct ck_spinlock_mcs) <= _Alignof(SmplockCkWord), "mcs node aligned");

void smplock_ck_fas_init(SmplockCkWord* lock) { ck_spinlock_fas_init((ck_spinlock_fas_t*)lock); }
void smplock_ck_fas_lock(SmplockCkWord* lock) { ck_spinlock_fas_lock((ck_spinlock_fas_t*)lock); }
void smplock_ck_fas_unlock(SmplockCkWord* lock) { ck_spinlock_fas_unlock((ck_spinlock_fas_t*)lock); }

void smplock_ck_ticket_init(SmplockCkWord* lock) { ck_spinlock_ticket_init((ck_spinlock_ticket_t*)lock); }
void smplock_ck_ticket_lock(SmplockCkWord* lock) { ck_spinlock_ticket_lock((ck_spinlock_ticket_t*)lock); }
void smplock_ck_ticket_unlock(SmplockCkWord* lock) { ck_spinlock_ticket_unlock((ck_spinlock_ticket_t*)lock); }

void smplock_ck_mcs_init(SmplockCkWord* lock) { ck_spinlock_mcs_init((ck_spinlock_mcs_t*)lock); }
void smplock_ck_mcs_lock(SmplockCkWord* lock, SmplockCkWord* node) {
  ck_spinlock_mcs_lock((ck_spinlock_mcs_t*)lock, (struct ck_spinlock_mcs*)node);
}
void smplock_ck_mcs_unlock(SmplockCkWord* lock, SmplockCkWord* node) {
  ck_spinlock_mcs_unlock((ck_spinlock_mcs_t*)lock, (struct ck_spinlock_mcs*)node);
}
