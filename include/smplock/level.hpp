// smplock/level.hpp: the SMP lock levels.
//
//   Level        an 8-bit number a CPU is at; holding a lock means being at its level.
//   irq_level()  the level of IRQ line n (8259 cascade order).
//   level_name() "NP", "IRQ 3", or "0x69" for a level of the user's own.
//
// The levels run from least interruptible work at the bottom to most at the top, the order of the
// OZONE kernel's table. A CPU may only go up (acquire) and come back down the way it went (release),
// so any two locks are always taken in the same order and no set of them can deadlock.
#pragma once

#include <cstdint>
#include <string_view>

namespace smplock {

enum class Level : std::uint8_t {
  // Not locks: the two levels a CPU with no lock held can be at.
  Null = 0x00,     // nothing held, softints deliverable: where ordinary code runs.
  Softint = 0x01,  // nothing held, softints held back: lowipl routines run here.

  // Each lock sits above every lock its holder may already hold when it takes it, and below every
  // lock it may take while held. The gaps leave room for a user's own levels in between.
  SH = 0x10,  // shutdown handler table: taken first, by code that may then touch anything below.
  HT = 0x18,  // per-process handle tables: looking up a handle comes before touching what it names.
  VL = 0x20,  // per-volume filesystem volume locks: a file operation holds its volume while it does I/O.
  DV = 0x28,  // devices: a driver's queue is taken with the volume held, before memory is mapped.
  PT = 0x30,  // per-process page table: faults and mapping for one process, may then need pages.
  GP = 0x40,  // global sections page table: shared sections are mapped under a process's page table.
  PM = 0x48,  // physical memory tables: page allocation, needed by both page tables above.
  CP = 0x49,  // cache private lock: per-cache block lists, split out of PM (it was PM's contention).
  PS = 0x4A,  // per-process state: thread state was split five ways (PS, TF, EV, TP, TC) for speed.
  TF = 0x4C,  // thread family list: walked with a process's state held.
  EV = 0x4E,  // individual event flag state: setting a flag then wakes threads (TP, TC above).
  TP = 0x50,  // individual thread private lock: one thread's state, changed when an event wakes it.
  TC = 0x52,  // thread COM queue lock: the ready queue, the last step of waking a thread.
  PR = 0x54,  // process lists: creating or finding a process, done with thread state possibly held.
  SE = 0x60,  // security structs: checks are made from almost anywhere above, so they sit high.
  NP = 0x68,  // non-paged pool: below the IRQs, which is what keeps the pool out of interrupt handlers.
  QU = 0x70,  // quota: charged while allocating from the pool, so above NP.
  // 0xE0..0xEF: the 16 IRQ lines (see irq_level()). Above every lock a handler cannot take.
  KT = 0xF8,  // kthread routines: above the IRQs so a handler may wake a kernel thread.
  HI = 0xFC,  // lowipl routines: the top lock level, usable from any interrupt handler.
};

// The lowest and highest IRQ levels: IRQ 7 uses 0xE0, IRQ 0 uses 0xEF.
inline constexpr std::uint8_t kIrqLevelLow = 0xE0;
inline constexpr std::uint8_t kIrqLevelHigh = 0xEF;
inline constexpr unsigned kIrqCount = 16;

// irq_level(n): the level of IRQ line n. Priorities follow the 8259 pair's cascade: the slave's lines
// (8..15) stand in for line 2 of the master, so they rank between lines 2 and 3.
constexpr Level irq_level(unsigned irq) {
  constexpr std::uint8_t kByLine[kIrqCount] = {0xEF, 0xEE, 0xED, 0xE4, 0xE3, 0xE2, 0xE1, 0xE0,
                                                0xEC, 0xEB, 0xEA, 0xE9, 0xE8, 0xE7, 0xE6, 0xE5};
  return static_cast<Level>(kByLine[irq & 15u]);
}

// irq_of_level(): the IRQ line whose level is `l`, or -1 when `l` is no IRQ level.
constexpr int irq_of_level(Level l) {
  for (unsigned n = 0; n < kIrqCount; ++n)
    if (irq_level(n) == l) return static_cast<int>(n);
  return -1;
}

constexpr std::uint8_t to_int(Level l) { return static_cast<std::uint8_t>(l); }
constexpr bool operator<(Level a, Level b) { return to_int(a) < to_int(b); }
constexpr bool operator<=(Level a, Level b) { return to_int(a) <= to_int(b); }
constexpr bool operator>(Level a, Level b) { return to_int(a) > to_int(b); }
constexpr bool operator>=(Level a, Level b) { return to_int(a) >= to_int(b); }

// level_name(): the table's short name, "IRQ n" for an IRQ level, else the number as "0x69".
// The view points at static storage and stays valid for the program's life.
std::string_view level_name(Level level);

// What the table says each named level protects ("" for levels not in the table).
std::string_view level_description(Level level);

}  // namespace smplock
