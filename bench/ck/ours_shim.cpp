// bench/ck/ours_shim.cpp: the smplock::Lock that bench/ck/ours_ck.h's macros take in Concurrency
// Kit's benchmark harness, behind three extern "C" calls the C harness can make (issue 16).
//
// Built with -flto together with the harness (bench/ck/build.sh), so the calls inline and the loop
// runs Lock's own inline fast paths, as a C++ caller of Lock would. Not part of the library.
#include "smplock/smplock.hpp"

namespace {
// One lock at a real lock level (PM, the first level of the benchmarks' chain in
// bench/harness/adapters.hpp), cache-line aligned like every lock CK's harness defines. constinit:
// no static initialiser runs before main.
alignas(64) constinit smplock::Lock g_lock{smplock::Level::PM, "ck_harness"};
}  // namespace

// always_inline: Lock::acquire() and release() are always inlined into a C++ caller (lock.hpp), and
// the shim must not change that; without it GCC's -O2 size limits keep the acquire out of line once
// the harness calls it four times per loop step. With -flto the attribute crosses from this unit
// into the harness's.
#define SMPLOCK_CK_SHIM extern "C" [[gnu::always_inline]]

// The level to give back to release(): what LOCK_STATE keeps per thread.
SMPLOCK_CK_SHIM unsigned char smplock_ck_acquire(void) { return smplock::to_int(g_lock.acquire()); }

SMPLOCK_CK_SHIM void smplock_ck_release(unsigned char previous) {
  g_lock.release(static_cast<smplock::Level>(previous));
}

SMPLOCK_CK_SHIM int smplock_ck_locked(void) { return g_lock.owner() >= 0; }
