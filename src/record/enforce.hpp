// `smplock enforce` inside the program (issue 13): the level table the command hands over, the level
// each new lock class gets from it, the order check made before a blocking acquisition, and the
// crash report (or, with --warn, the report once per distinct violation and a summary at exit).
//
// The table comes as a small text file named by $SMPLOCK_ENFORCE, written by `smplock enforce` from
// the JSON table: one line per class, "how<TAB>0xaddress<TAB>level<TAB>nest<TAB>object<TAB>name<TAB>
// key<TAB>where", where (object, address) is the raw identity the trace recorded for the class: a
// global lock's address in its object, or the return address in its object of the call that made
// the class (the frame its key names). The program matches each new class against it without any
// symbol lookup: a global lock by its own address, an init or first-use class by the innermost frame
// of its site that is in the table.
#pragma once

#include <cstdint>

#include "runtime.hpp"

namespace smplock::record {

// Set once at load time, read on every acquisition.
extern bool g_enforcing;  // a table was loaded: check every blocking acquisition
extern bool g_recording;  // record order edges and write a trace (off under enforce without -o)

// Reads $SMPLOCK_ENFORCE (from start_runtime; no malloc, no stdio).
void load_enforce();

// A new class's place in the table: its level (-1: the table does not know it), whether two of its
// instances may nest (in address order), and its table line (-1: none). Cold; called without g_lock
// (it asks the dynamic linker where each address lies).
struct TableLevel {
  std::int32_t level = -1;
  bool nest = false;
  std::int32_t entry = -1;
};
TableLevel resolve_level(How how, std::uintptr_t addr, const Stack& site);

// Before a blocking acquisition of `lock` (class `cls`) by `t`: R1 (a level below the highest held)
// and R2 (a second lock at the same level, except allowed same-class nesting in address order). A
// re-lock of a held lock is R3's no-op. Reports, then aborts (or, with --warn, carries on).
void check_order(Thread* t, const void* lock, std::uint32_t cls, const Acquire& a);

// At exit, with --warn, in the process `smplock enforce` started: the violations seen and the
// classes the table does not know, on stderr.
void enforce_exit();

}  // namespace smplock::record
