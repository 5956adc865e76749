// Lock slow paths: the rule checks that the inline fast paths hand over, the contended wait
// (spin, then park), and the release that must wake a sleeper.
#include "smplock/lock.hpp"

#include "internal.hpp"
#include "platform/platform.hpp"

#include <functional>

namespace smplock {

using detail::CpuRecord;
using detail::HeldEntry;

namespace detail {
std::atomic<std::uint64_t> g_spin_budget_ns{4000};
Lock g_raised_level(Level::HI, "(raised level)");
std::atomic<std::uint64_t> g_yield_budget_ns{200'000};
std::atomic<std::uint64_t> g_hunger_budget_ns{1'000'000};
}  // namespace detail

struct LockFork {
  static void forget_hunger(Lock& l) {
    l.sleepers_.fetch_and(static_cast<std::uint16_t>(~Lock::kHungry), std::memory_order_relaxed);
    std::uint32_t w = Lock::kHandOff;
    l.word_.compare_exchange_strong(w, 0, std::memory_order_relaxed);
  }
};

namespace {
// The spin phase's longest backoff, in pause instructions between two looks at the word. Each look
// takes the word's cache line away from the holder (whose next write must fetch it back), so a
// waiter that looks too often slows the very holder it waits for. 64 pauses (about 1 us on the
// development machine) let a holder of short sections run dozens of them between two looks; at 8,
// short-section throughput with 8 threads was a fifth lower (bench/RESULTS.md).
constexpr unsigned kBackoffCap = 64;

// The lock each CPU is hungry on (set just before it tries for a lock's kHungry mark, cleared after
// it has let the mark go), for the child of a fork(): there the waiters of the parent's other
// threads do not exist, and a mark one of them held would have every release of that lock hand
// the word to nobody. The child takes such marks back (after_fork_child below).
detail::CpuTable<Lock> g_hungry_on;

// In the child of fork(), with one thread: every mark is a dead thread's (the forking thread was
// not waiting), so each recorded lock loses its mark, and a word handed off to nobody is free.
// Sleeper counts of the dead stay, as they always did: they cost a needless wake-up call, no more.
void after_fork_child() {
  g_hungry_on.for_each([](std::atomic<Lock*>& e) {
    if (Lock* l = e.load(std::memory_order_relaxed)) {
      LockFork::forget_hunger(*l);
      e.store(nullptr, std::memory_order_relaxed);
    }
  });
}
__attribute__((constructor)) void register_fork_handler() { platform::on_fork_child(after_fork_child); }

// The level of the highest lock held below `below`, or -1.
int next_held_level(const CpuRecord& cpu, unsigned below) {
  for (unsigned l = below; l-- > 0;)
    if (cpu.held[l].key != 0) return static_cast<int>(l);
  return -1;
}

// Null and Softint: what a CPU with no lock is at, never a lock's level.
bool is_cpu_state(Level level) { return to_int(level) <= to_int(Level::Softint); }

}  // namespace

namespace detail {
void not_a_lock_level(const Lock* lock, std::source_location where) noexcept {
  violation(Rule::R6_SoftintWithoutLocks,
            "a lock at level Null or Softint (CPU states, not lock levels: it would be held where softints run)",
            lock, this_cpu_if_attached(), where, "level", to_int(lock->level()));
}
}  // namespace detail

Lock::~Lock() {
  if (word_.load(std::memory_order_relaxed) != 0) [[unlikely]]
    detail::violation(Rule::R7_NoLockOutlivesCpu, "destroying a lock that is held", this,
                      detail::this_cpu_if_attached(), {});
}

std::uint16_t Lock::register_class() {
  // A lock the constructor could not check (its bytes copied in, say) is caught on first use.
  if (is_cpu_state(level_)) detail::not_a_lock_level(this, {});
  // The held-lock record keeps a lock's address in 48 bits (HeldEntry::key). Checked here, on each
  // lock's first acquire, rather than on every acquire.
  if ((reinterpret_cast<std::uintptr_t>(this) & ~HeldEntry::kAddressMask) != 0)
    detail::violation(Rule::Fatal, "lock address does not fit the held-lock record (48 bits)", this,
                      detail::this_cpu_if_attached(), {});
  const std::uint16_t id = detail::class_register(name_, level_);
  class_id_.store(id, std::memory_order_relaxed);  // every racer stores the same id
  return id;
}

void Lock::sampled(CpuRecord& cpu, HeldEntry& e, std::uint16_t id, std::uint8_t previous) {
  if (id == 0) {
    // The class's first acquisition on any CPU (or a racer's): counted in slot 0, which goes back
    // to 0 here so the next unregistered class comes here too. Registered now and counted in its
    // own slot, where it is a sample only if that slot's count says so. (A signal handler that
    // takes another unregistered class on this CPU between the inline store of slot 0 and the reset
    // below finds slot 0 at 1: that one acquisition is counted nowhere, and its class registers on
    // its next one. The only error of the count: one acquisition per such race.)
    cpu.acquisitions[0].store(0, std::memory_order_relaxed);
    id = const_cast<Lock*>(e.lock())->register_class();
    std::atomic<std::uint64_t>& count = cpu.acquisitions[std::size_t{id}];
    const std::uint64_t n = count.load(std::memory_order_relaxed);
    count.store(n + 1, std::memory_order_relaxed);
    if ((n & detail::kNestSampleMask) != 0) return;
  }
  detail::sample_nesting(cpu, id, previous);
  if (detail::g_hold_timing.load(std::memory_order_relaxed)) {
    e.acquired_ns = platform::now_ns();
    e.key |= HeldEntry::kTimed;
  }
}

Level Lock::acquire_slow(CpuRecord& cpu, std::source_location where) {
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  const std::uint8_t mine = to_int(level_);
  if (is_cpu_state(level_)) detail::not_a_lock_level(this, where);
  if (mine < current)
    detail::violation(Rule::R1_AcquireUpwardOnly, "acquiring a lock below the CPU's level", this, &cpu, where);
  HeldEntry& e = cpu.held[mine];
  if (e.lock() != this || owner() != cpu.index)
    detail::violation(Rule::R2_NoLateralLocking,
                      "acquiring a lock at the CPU's current level that this CPU does not own", this, &cpu, where);
  ++e.nest;  // R3: re-acquiring the top lock is a no-op
  e.key |= HeldEntry::kNested;
  return static_cast<Level>(current);
}

bool Lock::try_acquire_slow(CpuRecord& cpu, Level& previous, std::source_location where) {
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  if (to_int(level_) <= current) {
    previous = acquire_slow(cpu, where);  // R1/R2 crash, or an R3 nested acquire
    return true;
  }
  return false;  // busy: the level was never raised
}

void Lock::release_slow(CpuRecord& cpu, Level previous, std::source_location where) {
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  const std::uint8_t mine = to_int(level_);
  HeldEntry& e = cpu.held[mine];
  if ((e.key & detail::kHeldSameClass) != 0 && release_in_class(cpu, e, previous, where)) return;
  if (e.lock() != this || owner() != cpu.index)
    detail::violation(Rule::R4_ReleaseTopAsOwner, "releasing a lock this CPU does not own", this, &cpu, where);
  if (current != mine)
    detail::violation(Rule::R4_ReleaseTopAsOwner,
                      "releasing a lock that is not at the CPU's current level (not the top lock)", this, &cpu,
                      where);
  if (previous == level_) {
    if (e.nest == 0)
      detail::violation(Rule::R3_Nesting, "release to the lock's own level matches no nested acquire", this, &cpu,
                        where);
    if (--e.nest == 0) e.key &= ~HeldEntry::kNested;  // the nested acquire's matching release: a no-op
    return;
  }
  if (previous > level_)
    detail::violation(Rule::R5_ReleaseDownward, "releasing to a level above the CPU's level", this, &cpu, where,
                      "previous", to_int(previous));
  // The level acquire() returned is at or above every lock held below, so only another `previous`
  // needs the scan for the next held lock (hold-timed releases come here every time).
  if (const int next = previous == e.previous() ? -2 : next_held_level(cpu, mine);
      next >= 0 && to_int(previous) < next)
    detail::violation(Rule::R5_ReleaseDownward, "releasing to a level below a lock still held", this, &cpu, where,
                      "previous", to_int(previous));
  else if (next == -1 && to_int(previous) > to_int(Level::Softint))
    // Nothing left held: only Null or Softint (DESIGN R5). Any other level is one no lock accounts
    // for, which would hold interrupts back with nothing to release.
    detail::violation(Rule::R5_ReleaseDownward, "releasing to a level above Softint with no lock left held", this,
                      &cpu, where, "previous", to_int(previous));
  if ((e.key & HeldEntry::kTimed) != 0) {
    const std::uint64_t held_ns = platform::now_ns() - e.acquired_ns;
    const std::uint16_t id = class_id();
    detail::bump(cpu.hold_ns[id], held_ns);
    detail::bump(cpu.hold_samples[id]);
    if (held_ns > cpu.max_hold_ns[id].load(std::memory_order_relaxed))
      cpu.max_hold_ns[id].store(held_ns, std::memory_order_relaxed);
  }
  // A nested count left over here means unlock()/release() pairs were mismatched; the outermost
  // release with the acquire's own `previous` ends them all.
  e.nest = 0;
  e.key = 0;
  free_word(cpu, to_int(previous));
}

// The word is free and a sleeper is counted: wake one. Each sleeper stays counted until it has the
// word, so every release while one is left wakes one more; a wake-up that finds nobody asleep yet
// is not needed (that sleeper's futex compares the word, which has changed since it read it).
__attribute__((noinline, cold)) void Lock::wake_sleeper(CpuRecord& cpu, std::uint8_t to) {
  platform::futex_wake(word_, 1);
  detail::drop_level(cpu, to);
}

// A release that found the hungry mark before its store (the word is still this CPU's): hand the
// word over (kHandOff, which only the hungry waiter takes) and wake every sleeper, since the futex
// cannot pick the hungry one out; hand-offs come at most once per hunger budget per lock, so the
// herd is rare.
__attribute__((noinline, cold)) void Lock::hand_off(CpuRecord& cpu, std::uint8_t to) {
  word_.store(kHandOff, std::memory_order_release);  // pairs with the hungry waiter's CAS
  platform::futex_wake(word_, 0x7FFFFFFF);
  detail::drop_level(cpu, to);
}

// --- several locks of one class (DESIGN §2's one exception to R2) ---------------------------------
//
// The held-lock slot of the level names the group's top lock (the last taken, highest address) and
// carries kHeldSameClass; each further member keeps, in its own padding, the member taken before it
// (taken_before_in_class), so the group is a chain the slot's one key reaches. Acquire: only on a
// slot begun by acquire_in_class(), only the same class, only a higher address than the top.
// Release: only the top, which hands the slot to the member below; the group's first lock is
// released like any lock, to the level it came from.

Level Lock::acquire_in_class(std::source_location where) {
  CpuRecord& cpu = detail::this_cpu();
  if (to_int(level_) > cpu.level.load(std::memory_order_relaxed)) {
    // The group's first lock: an ordinary acquire, its slot marked as a group.
    const Level previous = acquire(where);
    cpu.held[to_int(level_)].key |= detail::kHeldSameClass;
    set_taken_before(nullptr);
    return previous;
  }
  return acquire_in_class_slow(cpu, where);
}

Level Lock::acquire_in_class_slow(CpuRecord& cpu, std::source_location where) {
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  const std::uint8_t mine = to_int(level_);
  if (is_cpu_state(level_)) detail::not_a_lock_level(this, where);
  if (mine < current)
    detail::violation(Rule::R1_AcquireUpwardOnly, "acquire_in_class() of a lock below the CPU's level", this, &cpu,
                      where);
  HeldEntry& e = cpu.held[mine];
  Lock* top = const_cast<Lock*>(e.lock());
  if (top == this && owner() == cpu.index) return acquire_slow(cpu, where);  // R3: the top again, nested
  if ((e.key & detail::kHeldSameClass) == 0 || top == nullptr)
    detail::violation(Rule::R2_NoLateralLocking,
                      "acquire_in_class() at the CPU's level, whose lock was not taken through acquire_in_class()",
                      this, &cpu, where);
  if (top->class_or_register() != class_or_register())
    detail::violation(Rule::R2_NoLateralLocking,
                      "acquire_in_class() of a lock of another class than the ones held at the CPU's level", this,
                      &cpu, where);
  if (!std::less<const Lock*>{}(top, this))
    detail::violation(Rule::R2_NoLateralLocking,
                      "acquire_in_class() out of address order: this lock's address is below the last one of its "
                      "class taken (take them lowest address first)",
                      this, &cpu, where);
  if (e.nest != 0)
    detail::violation(Rule::R3_Nesting, "acquire_in_class() while the group's top lock has a nested acquire outstanding",
                      this, &cpu, where);
#ifdef SMPLOCK_UNIPROCESSOR
  if (word_.load(std::memory_order_relaxed) != 0) wait_for_word(cpu, where);
  word_.store(cpu.tag, std::memory_order_relaxed);
#else
  std::uint32_t expected = 0;
  if (!word_.compare_exchange_strong(expected, cpu.tag, std::memory_order_acquire, std::memory_order_relaxed))
    wait_for_word(cpu, where);  // the CPU is at the level already: nothing more to raise
#endif
  set_taken_before(top);
  // The new top; hold timing is per top lock, so the one below stops being timed.
  e.key = HeldEntry::make_key(this, to_int(e.previous())) | detail::kHeldSameClass;
  e.where = where;
#ifndef SMPLOCK_NO_COUNTERS
  const std::uint16_t id = class_or_register();
  detail::bump(cpu.acquisitions[std::size_t{id}]);
  detail::g_classes[id].same_class.fetch_add(1, std::memory_order_relaxed);
#endif
  return static_cast<Level>(current);
}

bool Lock::release_in_class(CpuRecord& cpu, HeldEntry& e, Level previous, std::source_location where) {
  const std::uint8_t mine = to_int(level_);
  const bool at_level = cpu.level.load(std::memory_order_relaxed) == mine;
  if (e.lock() != this) {
    // Owned by this CPU at its level but not the top: a member below the top.
    if (at_level && owner() == cpu.index)
      detail::violation(Rule::R4_ReleaseTopAsOwner,
                        "releasing a lock of a same-class group out of order (the last taken, highest address, "
                        "goes first)",
                        this, &cpu, where);
    return false;  // the ordinary checks say what is wrong
  }
  const Lock* below = taken_before_in_class();
  if (!at_level || owner() != cpu.index || below == nullptr) return false;  // checks, or the group's first lock
  if (previous == level_ && e.nest != 0) return false;  // a nested acquire's release
  if (previous != level_)
    detail::violation(Rule::R5_ReleaseDownward,
                      "releasing a lock of a same-class group to another level than its own while others of the "
                      "group are held (their acquire_in_class() returned the lock's level)",
                      this, &cpu, where, "previous", to_int(previous));
  // The member below becomes the top; the CPU stays at the level.
  set_taken_before(nullptr);
  e.key = HeldEntry::make_key(below, to_int(e.previous())) | detail::kHeldSameClass;
  free_word(cpu, mine);
  return true;
}

namespace detail {

void raise_level_slow(CpuRecord& cpu, Level level, std::source_location where) {
  if (to_int(level) < cpu.level.load(std::memory_order_relaxed))
    violation(Rule::R1_AcquireUpwardOnly, "raise_level() below the CPU's level", nullptr, &cpu, where, "to",
              to_int(level));
  violation(Rule::R2_NoLateralLocking, "raise_level() to the CPU's current level (it is taken)", nullptr, &cpu,
            where, "to", to_int(level));
}

void lower_level_slow(CpuRecord& cpu, Level previous, std::source_location where) {
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  HeldEntry& e = cpu.held[current];
  if (e.lock() != &g_raised_level)
    violation(Rule::R4_ReleaseTopAsOwner,
              e.key != 0 ? "lower_level() while a lock is at the top (release it first)"
                         : "lower_level() with no raise_level() at the CPU's level",
              e.lock(), &cpu, where, "previous", to_int(previous));
  if (to_int(previous) >= current)
    violation(Rule::R5_ReleaseDownward, "lower_level() to a level not below the CPU's level", nullptr, &cpu, where,
              "previous", to_int(previous));
  if (const int next = next_held_level(cpu, current); next >= 0 && to_int(previous) < next)
    violation(Rule::R5_ReleaseDownward, "lower_level() below a lock still held", nullptr, &cpu, where, "previous",
              to_int(previous));
  else if (next < 0 && previous != e.previous() && to_int(previous) > to_int(Level::Softint))
    violation(Rule::R5_ReleaseDownward, "lower_level() to a level above Softint with nothing left held", nullptr,
              &cpu, where, "previous", to_int(previous));
  e.key = 0;  // another `previous` than the raise returned, but one the rules allow
  drop_level(cpu, to_int(previous));
}

}  // namespace detail

void Lock::unlock(std::source_location where) {
  CpuRecord& cpu = detail::this_cpu();
  HeldEntry& e = cpu.held[to_int(level_)];
  if (e.lock() == this && e.nest > 0) {
    if (--e.nest == 0) e.key &= ~HeldEntry::kNested;
    return;
  }
  // A further member of a same-class group stays at the level: its acquire returned level().
  if (e.lock() == this && (e.key & detail::kHeldSameClass) != 0 && taken_before_in_class() != nullptr)
    return release(level_, where);
  release(e.lock() == this ? e.previous() : Level::Null, where);  // the rules judge a bad unlock()
}

// The contended acquire, in three phases, each for a time budget:
//   spin   test-and-test-and-set with pause and exponential backoff (the holder is running and
//          will let go soon);
//   yield  look, then give the processor away (sched_yield): when threads outnumber cores, the
//          holder may be waiting for this very processor; the word is left alone, so the holder's
//          release makes no system call;
//   park   sleep on the word (futex), counted in sleepers_, which sends the holder's release to its
//          waking path. Only a long wait gets here, so the system calls of sleep and wake-up are
//          paid rarely, and a program with more threads than cores never collapses.
//
// No wake-up is ever lost, and no sleep has a time limit to fall back on (the one a sleep has
// before the waiter's hunger budget ends is for marking itself hungry on time, not a cover). The
// release stores 0 and then reads sleepers_ with no fence between (no locked instruction); the
// waiter counts itself, then runs a process-wide barrier (membarrier), then reads the word w it
// sleeps on. The barrier either finds the releaser before its store (the store then comes after a
// full barrier on its CPU, so its later read of sleepers_ sees the count) or after it (the store
// is then visible, and the waiter reads 0 or a later holder's word, never that w). So whichever
// release frees the value a sleeper sleeps on reads the count and wakes one:
//   - futex_wait compares the word with w under the kernel's lock, so a wake-up after the store
//     either finds the sleeper queued or the sleeper finds the word changed;
//   - a sleeper stays counted until it wakes, so when one release wakes another sleeper than one
//     that slept on the value it freed, each later release wakes one more while any sleeps; the
//     woken one always goes on to take the word (and release it, waking the next) or to sleep on
//     a newer holder's value, whose release wakes again: no sleeper is left behind a free word;
//   - a waiter woken by a signal or finding the word changed is awake, which is all it needs.
// A kernel without membarrier gets no park phase: waiters keep yielding (never collapse, burn more).
__attribute__((noinline, cold)) void Lock::wait_for_word(CpuRecord& cpu, std::source_location where) {
#ifdef SMPLOCK_UNIPROCESSOR
  detail::violation(Rule::Fatal, "lock busy in the uniprocessor build (held by a CPU that is gone)", this, &cpu,
                    where);
#else
  // The call site is the acquire's source_location (the user's line: see smplock/lock.hpp), known
  // by its identity; stats::snapshot() turns it back into function, file and line.
  const std::uintptr_t caller = detail::site_id(where);
  const std::uint64_t t0 = platform::now_ns();
  const unsigned queued = waiters_.fetch_add(1, std::memory_order_relaxed);
  const std::uint64_t spin_budget = detail::g_spin_budget_ns.load(std::memory_order_relaxed);
  const std::uint64_t yield_budget = detail::g_yield_budget_ns.load(std::memory_order_relaxed);
  const std::uint64_t hunger_budget = detail::g_hunger_budget_ns.load(std::memory_order_relaxed);
  const std::uint64_t hungry_at = hunger_budget > ~t0 ? ~std::uint64_t{0} : t0 + hunger_budget;  // "never" stays never
  std::uint64_t spin_end = t0 + spin_budget;
  std::uint64_t yield_end = spin_end + yield_budget;
  std::uint64_t spins = 0, parks = 0;
  bool sleeper = false;    // counted in sleepers_ for the sleep about to come, and the barrier run
  bool can_sleep = true;   // false when the kernel has no process-wide barrier: yield instead
  bool hungry = false;     // holds the lock's kHungry mark: the next releases hand the word to us
  unsigned backoff = 1;
  bool yielding = false;
  // Past the hunger budget: take the lock's one hungry mark if nobody has it, then run the barrier,
  // after which every release that begins reads the mark before its store (smplock/lock.hpp). It
  // sleeps like any waiter (counted, then the barrier, before each sleep), so the no-lost-wake-up
  // argument below is unchanged. While another waiter has the mark, this one stays as it is and
  // asks again at its next look at the clock (the hand-off wakes every sleeper, so it will look).
  auto hunger = [&](std::uint64_t now) {
    if (hungry || now < hungry_at) return false;
    std::uint16_t s = sleepers_.load(std::memory_order_relaxed);
    if ((s & kHungry) != 0) return false;
    std::atomic<Lock*>& record = g_hungry_on[cpu.index];  // before the mark: a fork may come any time
    record.store(this, std::memory_order_relaxed);
    while ((s & kHungry) == 0) {
      if (sleepers_.compare_exchange_weak(s, static_cast<std::uint16_t>(s | kHungry), std::memory_order_seq_cst,
                                          std::memory_order_relaxed)) {
        hungry = true;
        if (can_sleep && !platform::process_wide_barrier()) can_sleep = false;
        return true;
      }
    }
    record.store(nullptr, std::memory_order_relaxed);
    return false;
  };
  for (;;) {
    std::uint32_t w = word_.load(std::memory_order_relaxed);
    if (w == 0 || (w == kHandOff && hungry)) {
      // free (or handed to us) -> held. Acquire pairs with the releaser's store.
      if (word_.compare_exchange_weak(w, cpu.tag, std::memory_order_acquire, std::memory_order_relaxed)) break;
      continue;
    }
    ++spins;
    if (!yielding) {
      for (unsigned i = 0; i < backoff; ++i) platform::cpu_relax();
      if (backoff < kBackoffCap) backoff <<= 1;
      // The clock is read every 8th look.
      if ((spins & 7) != 0) continue;
      const std::uint64_t now = platform::now_ns();
      if (hunger(now) || now < spin_end) continue;
      yielding = true;
    }
    const std::uint64_t now = platform::now_ns();
    if (hunger(now)) continue;  // look again after the barrier before anything else
    if (!can_sleep || now < yield_end) {
      platform::yield_cpu();
      continue;
    }
    // Park. Counted first, then the process-wide barrier, and only then a fresh look at the word:
    // every release that stores 0 over a value read from here on reads the count afterwards and
    // wakes (see the lock word's comment in smplock/lock.hpp). Counted only around each sleep, so
    // a woken waiter spinning for the hand-over sends no release to the waking path: releases
    // make wake-up calls only while someone sleeps (or is about to).
    if (!sleeper) {
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if (!platform::process_wide_barrier()) {
        // No barrier, no safe sleep: this waiter keeps yielding until it has the word.
        sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        can_sleep = false;
        continue;
      }
      sleeper = true;
      continue;  // look at the word again, now as a counted sleeper
    }
    // Sleeps only while the word is still w (the kernel compares it under its own lock), until a
    // release wakes us or a signal comes (or the hunger limit below). When the word had already
    // changed (or a signal came), look again at once, still counted: no new barrier is needed for that (every
    // look after the barrier is covered by it). Treating that as a wake-up, uncounted, with a
    // spin and a new barrier each time, halved 8 threads' short sections on 2 cores (a lock
    // whose word changes millions of times a second makes most futex waits return at once).
    //
    // The one limit: until this waiter has passed its hunger budget, it sleeps at most to the end
    // of it, so that it marks itself hungry on time even when no release happens to wake it (the
    // futex wakes sleepers in its own order). Past the budget (hungry, or another waiter has the
    // mark, whose hand-off wakes every sleeper) there is none. Either way a lost wake-up is never
    // what a limit covers: none can be lost.
    const std::uint64_t limit = !hungry && now < hungry_at ? hungry_at - now : 0;
    if (!platform::futex_wait(word_, w, limit)) continue;
    if (sleeper) sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    sleeper = false;
    ++parks;
    // Woken: spin briefly for the hand-over, then straight back to sleep (counted again, with the
    // barrier again: one system call per sleep, and sleeps are rare).
    spin_end = platform::now_ns() + spin_budget / 4;
    yield_end = spin_end;
    backoff = 1;
    yielding = false;
  }
  if (hungry) {
    sleepers_.fetch_and(static_cast<std::uint16_t>(~kHungry), std::memory_order_seq_cst);
    g_hungry_on[cpu.index].store(nullptr, std::memory_order_relaxed);
  }
  if (sleeper) sleepers_.fetch_sub(1, std::memory_order_seq_cst);
  waiters_.fetch_sub(1, std::memory_order_relaxed);
#ifndef SMPLOCK_NO_COUNTERS  // the counters-off benchmark build (bench/parts/stats.cmake) counts nothing
  std::uint16_t id = class_id_.load(std::memory_order_relaxed);
  if (id == 0) id = register_class();
  detail::class_note_contended(cpu, id, queued, spins, parks, platform::now_ns() - t0, caller);
#else
  (void)caller;
  (void)queued;
  (void)parks;
#endif
#endif
}

}  // namespace smplock
