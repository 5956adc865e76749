// src/internal.hpp: what the library's sources share and users never see.
//
//   violation()       the crash: report, hook, abort().
//   ClassRecord       a lock class's shared counters (updated on contended paths only).
//   class_register()  finds or adds the class (name, level), lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <source_location>

#include "smplock/detail/cpu_record.hpp"
#include "smplock/lock.hpp"
#include "smplock/rules.hpp"

namespace smplock::detail {

// The crash. `extra_label`/`extra_level` add one more line to the report ("expected level", ...).
[[noreturn]] void violation(Rule rule, const char* what, const Lock* lock, CpuRecord* cpu,
                            std::source_location where, const char* extra_label = nullptr,
                            int extra_level = -1);

// A call site's address, claimed once by a CAS and then only read. The counts are kept per CPU
// (src/stats.cpp, count_call_site()), so a contended acquire writes no line other CPUs read.
struct CallSite {
  std::atomic<std::uintptr_t> pc{0};
};

struct ClassRecord {
  // name pointer | level << 56; 0: slot free. Written once by a CAS that publishes the class.
  std::atomic<std::uint64_t> key{0};
#define SMPLOCK_DECLARE_SHARED(name, json, text) std::atomic<std::uint64_t> name{0};
  SMPLOCK_SHARED_CLASS_COUNTERS(SMPLOCK_DECLARE_SHARED)
#undef SMPLOCK_DECLARE_SHARED
  CallSite sites[kCallSites];

  const char* name() const { return reinterpret_cast<const char*>(key.load(std::memory_order_acquire) & ((1ull << 56) - 1)); }
  Level level() const { return static_cast<Level>(key.load(std::memory_order_acquire) >> 56); }
};

extern ClassRecord g_classes[kMaxClasses];

// Finds or adds class (name, level); returns its id (1..kMaxClasses-1). Lock-free, async-signal-safe.
std::uint16_t class_register(const char* name, Level level);

// Records one contended acquisition of class `id` by `cpu` (the calling CPU).
void class_note_contended(CpuRecord& cpu, std::uint16_t id, unsigned queued, std::uint64_t spins,
                          std::uint64_t parks, std::uint64_t wait_ns, std::uintptr_t caller);

// Raises an atomic maximum.
inline void atomic_max(std::atomic<std::uint64_t>& m, std::uint64_t v) {
  std::uint64_t cur = m.load(std::memory_order_relaxed);
  while (v > cur && !m.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

// Called by the CPU layer (src/irq.cpp): interrupt state set-up when a thread takes an index
// (on_cpu_attach, before the record is published), delivery of what was left pending for the index
// once the thread is a CPU (on_cpu_attached: a raise that raced the previous thread's end is
// delivered now, not at this thread's first release), hand-over when a thread ends
// (on_cpu_detach), and the reset of an index whose thread is gone after fork() (on_cpu_forget).
void on_cpu_attach(CpuRecord& cpu);
void on_cpu_attached(CpuRecord& cpu);
void on_cpu_detach(CpuRecord& cpu);
void on_cpu_forget(CpuRecord& cpu);

// Other parts' set-up for a thread that has just become a CPU, run by attach in ordinary thread
// context (never in a signal handler), so per-thread set-up that may allocate happens there and not
// at a first use inside a handler. At most kAttachHooks; returns false when full. Add hooks from
// static initialisers, before threads attach.
using AttachHook = void (*)(CpuRecord& cpu);
inline constexpr unsigned kAttachHooks = 8;
bool add_attach_hook(AttachHook hook);

// The contended acquire's phases (src/lock.cpp, wait_for_word), in nanoseconds.
extern std::atomic<std::uint64_t> g_spin_budget_ns;   // contended acquire: spin phase
extern std::atomic<std::uint64_t> g_yield_budget_ns;  // then the yield phase, then park
// A waiter that has waited this long takes the lock's hungry mark (one per lock), and the word is
// handed to it by the second release after (smplock/lock.hpp, "Bounded pass-over").
extern std::atomic<std::uint64_t> g_hunger_budget_ns;

}  // namespace smplock::detail
