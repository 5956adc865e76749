// smplock/rules.hpp: the rules every acquire and release enforces, and the crash they cause.
//
//   Rule         R1..R9 of the design, with to_string().
//   CrashInfo    what the crash report says, handed to a user hook before abort().
//   set_crash_hook()  log the crash your own way first; the program still aborts afterwards.
//
// A broken rule is a bug in the caller, found "on the spot": the library writes a fixed-format
// report to stderr with write(2) (no allocation, no lock) and calls abort(). There is no way to
// carry on, in any build type, uniprocessor included.
#pragma once

#include <cstdint>

#include "smplock/level.hpp"

namespace smplock {

enum class Rule : std::uint8_t {
  R1_AcquireUpwardOnly = 1,     // acquiring a lock below the CPU's level
  R2_NoLateralLocking = 2,      // a second lock at the CPU's current level
  R3_Nesting = 3,               // (re-acquiring the top lock is allowed; kept for numbering)
  R4_ReleaseTopAsOwner = 4,     // releasing a lock not owned, or not at the CPU's level
  R5_ReleaseDownward = 5,       // `previous` above the level, or below the next lock still held
  R6_SoftintWithoutLocks = 6,   // set_softint() above Softint
  R7_NoLockOutlivesCpu = 7,     // a thread ending with locks held; destroying a held lock
  R8_PoolBelowNP = 8,           // npp::malloc/free above the pool's level
  R9_LevelAssertion = 9,        // check_level(x) when the level is not x
  Fatal = 10,                   // not a rule: out of CPUs, out of memory, corrupt state
};

// "R1 acquire upward only", "R2 no lateral locking", ...
const char* to_string(Rule rule);

class Lock;

// What a crash report is made from. Valid only during the hook call.
struct CrashInfo {
  Rule rule;
  const char* what;        // one line saying what was done wrong
  const Lock* lock;        // the lock involved, or nullptr
  int cpu;                 // the CPU's index, or -1 if the thread is not a CPU
  Level cpu_level;         // the CPU's level when the rule broke
  const char* report;      // the whole report text, as written to stderr (NUL-terminated)
  unsigned report_length;
};

using CrashHook = void (*)(const CrashInfo&);

// Installs a hook called with the report before abort(); returns the previous hook. The hook must
// not return to the caller's code: whatever it does, abort() follows. It may be called from a signal
// handler or with locks held, so it should do little more than write the report somewhere.
CrashHook set_crash_hook(CrashHook hook);

}  // namespace smplock
