// smplock/cpu.hpp: the calling CPU's level.
//
//   current_level()  the level this CPU is at.
//   cpu_index()      this CPU's index (a thread becomes a CPU on first use; its index is recycled
//                    when the thread ends).
//   set_softint()    inhibit or allow softints with no lock held (R6).
//   check_level()    assert the level (R9).
#pragma once

#include <source_location>

#include "smplock/detail/cpu_record.hpp"
#include "smplock/level.hpp"

namespace smplock {

inline Level current_level() {
  return static_cast<Level>(detail::this_cpu().level.load(std::memory_order_relaxed));
}

inline int cpu_index() { return detail::this_cpu().index; }

// Most CPUs (threads using the library) a program may have attached at once: SMPLOCK_MAX_CPUS,
// 32767 (what a lock's 15-bit sleeper count holds) unless built lower. Each costs memory only once attached.
constexpr unsigned max_cpus() { return detail::kMaxCpus; }

// CPUs attached now.
unsigned cpus_attached();

// set_softint(enable): with no lock held, moves this CPU between Null (softints deliverable) and
// Softint (held back); returns whether they were enabled before. Enabling delivers pending ones at
// once. Crashes (R6) above Softint.
bool set_softint(bool enable, std::source_location where = std::source_location::current());

// check_level(x): crashes (R9) unless this CPU is at level x.
void check_level(Level expected, std::source_location where = std::source_location::current());

}  // namespace smplock
