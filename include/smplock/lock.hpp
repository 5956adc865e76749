// smplock/lock.hpp: the leveled spinlock.
//
//   Lock          a spinlock with a level and a class name; acquire() raises the CPU to the lock's
//                 level and returns the level to restore, release(previous) goes back down.
//   Guard         RAII for one lock.
//   OrderedGuard  takes several locks in level order (use it instead of std::scoped_lock).
//   Lock::acquire_in_class() / ClassGuard
//                 several locks of one class (same name and level) held together: the one
//                 exception to R2, taken in address order, checked on every acquire and release
//                 (docs/same-class.md).
//   raise_level() / lower_level() / LevelGuard
//                 raise this CPU's level without a lock (a kernel's "raise IPL"): holds back this
//                 CPU's interrupts and softints at or below the level, for data only this CPU
//                 touches. No system call either way.
//
// When not to use it: a Lock spins (then sleeps) and is meant for short critical sections of a
// program organised in levels. For a lock held across blocking I/O, or long waits on conditions,
// a std::mutex with std::condition_variable is the right tool. Never take a Lock in a place you
// cannot give a level: the level is the whole point.
//
// std::scoped_lock(a, b) is not for these locks: it takes them in whatever order its deadlock
// avoidance tries, retrying after failures, and taking a lower lock after a higher one breaks R1.
// OrderedGuard sorts by level and takes each lock once, upward.
//
// Call sites: every acquire takes a std::source_location, defaulted where the user writes the
// call, and the reports (crash report, contended call sites) name it. Guard, OrderedGuard,
// ClassGuard, and std::lock_guard, std::unique_lock and std::scoped_lock of one Lock (specialised in
// smplock/detail/std_locks.hpp) pass the user's line on; a wrapper of the program's own does the
// same by taking `std::source_location where = std::source_location::current()` and passing it to
// acquire() (docs/design.md, "Call sites").
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>

#include "smplock/detail/cpu_record.hpp"
#include "smplock/level.hpp"

namespace smplock {

class Lock;
namespace detail {
// The R6 crash for a lock made at `Null` or `Softint` (src/lock.cpp). Not constexpr on purpose.
[[noreturn]] void not_a_lock_level(const Lock* lock, std::source_location where) noexcept;
}  // namespace detail

class Lock {
 public:
  // A lock is made at a fixed level with a class name ("PS"); every lock of one class shares its
  // statistics. constexpr: a global Lock needs no static initialiser. `name` must outlive the lock
  // (a string literal is the usual case).
  //
  // `Null` and `Softint` are CPU states, not lock levels: a lock at either would be held where
  // set_softint() still works, and a softint routine could then enter its critical section on the
  // very CPU that holds it (an R6 bypass). Making one is a crash (R6): at run time here; in a
  // constant initialisation the call below is not a constant expression, so a `constinit` lock at
  // those levels does not compile and any other static one is made at run time and crashes.
  constexpr Lock(Level level, const char* name,
                 std::source_location where = std::source_location::current()) noexcept
      : level_(level), name_(name) {
    if (to_int(level) <= to_int(Level::Softint)) detail::not_a_lock_level(this, where);
  }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;
  // R7: destroying a lock that is held is a crash.
  ~Lock();

  // acquire(): raises this CPU to the lock's level, takes the lock, returns the level to pass to
  // release(). Crashes on R1 (lock below the CPU's level) and R2 (another lock at the same level).
  // Re-acquiring the lock this CPU holds at the top is a no-op that returns the current level (R3).
  [[nodiscard]] Level acquire(std::source_location where = std::source_location::current());

  // release(): frees the lock and drops the CPU to `previous`, delivering interrupts that the lower
  // level allows. Crashes on R4 (not the owner, not at the top) and R5 (`previous` above the level
  // or below the next lock still held). release(level()) after a nested acquire is a no-op.
  void release(Level previous, std::source_location where = std::source_location::current());

  // try_acquire(): like acquire() (R1 and R2 hold: a try never takes a lock below the level), but
  // when the lock is busy returns false and leaves the level as it was.
  [[nodiscard]] bool try_acquire(Level& previous,
                                 std::source_location where = std::source_location::current());

  Level level() const noexcept { return level_; }
  const char* name() const noexcept { return name_; }
  // The owning CPU's index, or -1 when free. A snapshot: only the owner's own answer is stable.
  int owner() const noexcept {
    const std::uint32_t w = word_.load(std::memory_order_relaxed) & kOwnerMask;
    return static_cast<int>(w) - 1;
  }

  // Standard lockable interface, so std::lock_guard and std::unique_lock work. The level to return
  // to is kept in the CPU's held-lock record.
  [[gnu::always_inline]] void lock(std::source_location where = std::source_location::current()) {
    (void)acquire(where);
  }
  void unlock(std::source_location where = std::source_location::current());
  bool try_lock(std::source_location where = std::source_location::current()) {
    Level ignored;
    return try_acquire(ignored, where);
  }

  // The lock class's id in the statistics (registered on first acquire; 0 before).
  std::uint16_t class_id() const noexcept { return class_id_.load(std::memory_order_relaxed); }

  // acquire_in_class(): like acquire(), except that this CPU may already hold other locks of this
  // lock's class (same name and level) that it took through this same call: the one exception to
  // R2 (DESIGN §2). They are taken in increasing address order, which every CPU follows, so two
  // CPUs taking the same pair can never wait for each other. The first one raises the level and
  // returns the level to restore, like acquire(); each further one returns the lock's own level
  // (the CPU stays there), and release(level()) gives it back. They are released in the reverse
  // order, the highest address first. Crashes on R2 for a lock of another class or a lower (or
  // equal) address than the last one taken, for a group not begun through this call, and for any
  // plain acquire() at the level while the group is held; on R4 for a release out of order.
  // ClassGuard does all of that for a set of locks known together.
  [[nodiscard]] Level acquire_in_class(std::source_location where = std::source_location::current());

  // The lock of its class this CPU took through acquire_in_class() just before this one, while
  // both are held by it; nullptr otherwise. For the crash report and for tests; read it only on the
  // CPU that holds this lock.
  const Lock* taken_before_in_class() const noexcept {
    return reinterpret_cast<const Lock*>(std::uintptr_t{link_lo_} | (std::uintptr_t{link_hi_} << 16));
  }

  // --- Public interface ends here. -------------------------------------------------------------

  // The lock word. 0: free. Otherwise the owner's tag (CPU index + 1, bits 0-15), or kHandOff.
  // Only the owner writes a held word; everyone else only CASes a free (or handed-off) one.
  //
  //   free (0) --CAS acquire--> held (tag) --plain store release--> free
  //                                        --release that sees a hungry waiter--> handed off
  //   handed off (kHandOff) --CAS by the hungry waiter only--> held (its tag)
  //
  // Sleepers are counted in sleepers_, not in the word. The release stores 0, then reads
  // sleepers_ and wakes one sleeper when it is nonzero; a waiter counts itself in sleepers_, then
  // runs a process-wide barrier (membarrier), and only then reads the word it sleeps on. The
  // barrier stands for the fence the release leaves out (store, then load of another word): either
  // the waiter reads the freed word (or a later one) and does not sleep on the old value, or the
  // release reads the count and wakes. So the release needs no locked instruction, and no wake-up is
  // lost. Nothing but a wake-up (or a changed word) ends a sleep, except that a waiter not yet past
  // the hunger budget sleeps at most until it is, to mark itself hungry on time (below).
  //
  // Bounded pass-over: a waiter that has waited longer than the hunger budget (1 ms by default)
  // sets kHungry in sleepers_ (one waiter per lock at a time) and runs the same barrier. The
  // release also reads sleepers_ just before its store (the line it is about to write); seeing
  // kHungry, it stores kHandOff instead of 0 and wakes every sleeper: kHandOff is no CPU's tag, so
  // the fast paths' CAS of 0 fails on it and only the hungry waiter takes it. Every release that
  // begins after the hungry waiter's barrier has returned sees the mark, so at most the one
  // release then under way frees the word to the others: the hungry waiter has the lock by the
  // second release after it marked itself (plus the time the scheduler takes to run it). Waiters
  // that are not hungry still compete for a free word as before (the release's thread may take it
  // straight back): the lock stays unfair, fast under contention, and starvation-free.
  static constexpr std::uint32_t kOwnerMask = 0xFFFFu;
  static constexpr std::uint32_t kHandOff = 0x10000u;  // handed to the hungry waiter: owner() says -1
  static constexpr std::uint16_t kHungry = 0x8000u;    // in sleepers_: a waiter is past the budget
  static_assert(detail::kMaxCpus < kHungry, "sleepers_ counts every CPU below its kHungry bit");

 private:
  Level acquire_slow(detail::CpuRecord& cpu, std::source_location where);
  bool try_acquire_slow(detail::CpuRecord& cpu, Level& previous, std::source_location where);
  void release_slow(detail::CpuRecord& cpu, Level previous, std::source_location where);
  void wait_for_word(detail::CpuRecord& cpu, std::source_location where);
  void wake_sleeper(detail::CpuRecord& cpu, std::uint8_t to);
  void hand_off(detail::CpuRecord& cpu, std::uint8_t to);
  // held -> free, then down to level `to`: what every release ends with once the rules are checked.
  // The word is not read: the held-lock slot matched (fast path) or owner() was checked (slow path),
  // and a slot names a lock only after this CPU's own CAS took its word, which no other CPU writes
  // while it is held. Release pairs with the next owner's acquire CAS; the signal fence keeps the
  // compiler from reading sleepers_ before the store (the processor's own store-to-load reordering
  // is what the sleeper's process-wide barrier covers). sleepers_ is read twice: before the store
  // (a hungry waiter: hand the word over instead of freeing it) and after it (a sleeper counted:
  // wake one). The first read is what bounds the
  // pass-over, the second what keeps wake-ups from being lost; both are one compare of a line the
  // release writes anyway.
  [[gnu::always_inline]] void free_word(detail::CpuRecord& cpu, std::uint8_t to) {
#ifdef SMPLOCK_UNIPROCESSOR
    word_.store(0, std::memory_order_relaxed);
#else
    if ((sleepers_.load(std::memory_order_relaxed) & kHungry) != 0) [[unlikely]]
      return hand_off(cpu, to);
    word_.store(0, std::memory_order_release);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_relaxed) != 0) [[unlikely]]
      return wake_sleeper(cpu, to);
#endif
    detail::drop_level(cpu, to);
  }
  std::uint16_t register_class();
  std::uint16_t class_or_register() {
    const std::uint16_t id = class_id_.load(std::memory_order_relaxed);
    return id != 0 ? id : register_class();
  }
  void note_acquired(detail::CpuRecord& cpu, std::uint8_t mine, Level previous, std::source_location where) {
    detail::HeldEntry& e = cpu.held[mine];
    e.key = detail::HeldEntry::make_key(this, to_int(previous));  // not nested, not timed
    e.where = where;
#ifndef SMPLOCK_NO_COUNTERS  // defined only by the counters-off benchmark build
    // This CPU's own counter: a plain load and store. Its old value also picks the nesting samples
    // (1 in 64), so sampling costs a test on a register, not another memory access. A class not yet
    // registered has id 0, whose counter the sampled path keeps at 0: so its first acquisition
    // always takes that path, which registers the class and counts it there (no test for 0 here).
    const std::uint16_t id = class_id_.load(std::memory_order_relaxed);
    std::atomic<std::uint64_t>& count = cpu.acquisitions[std::size_t{id}];  // size_t: one lea
    const std::uint64_t n = count.load(std::memory_order_relaxed);
    count.store(n + 1, std::memory_order_relaxed);
    if ((n & detail::kNestSampleMask) == 0) [[unlikely]]
      sampled(cpu, e, id, to_int(previous));
#endif
  }
  // The sampled acquisitions (1 in 64 per CPU and class): the nesting sample, and the hold timing
  // when it is on; and the first acquisition of a class not yet registered (id 0), which registers
  // it. Out of line, so the common acquire tests nothing more than the counter's bits.
  static void sampled(detail::CpuRecord& cpu, detail::HeldEntry& e, std::uint16_t id, std::uint8_t previous);

  std::atomic<std::uint32_t> word_{0};
  const Level level_;
  // CPUs in the contended path, for the queue histogram only (a byte: past 255 it wraps, and only
  // the histogram is off).
  std::atomic<std::uint8_t> waiters_{0};
  // CPUs asleep on the word or about to be (counted from just before each sleep's barrier until
  // it wakes, or takes the word instead), bits 0-14; every release that reads it nonzero wakes
  // one. Exact: 15 bits hold every CPU a lock word's tag can name (SMPLOCK_MAX_CPUS is at most
  // 32767 for this). Bit 15 (kHungry): a waiter past the hunger budget, set from its barrier until
  // it has the word. Beside the word, in the same aligned 8 bytes, so the release reads a line it
  // already has.
  std::atomic<std::uint16_t> sleepers_{0};
  std::atomic<std::uint16_t> class_id_{0};
  // While this lock is held as a further member of a same-class group: the 48-bit address of the
  // member taken before it (the group is a chain through its locks, the top in the held-lock slot).
  // Written and read only by the holding CPU, in padding the layout had anyway.
  std::uint16_t link_lo_ = 0;
  std::uint32_t link_hi_ = 0;
  const char* const name_;

  void set_taken_before(const Lock* l) noexcept {
    const auto a = reinterpret_cast<std::uintptr_t>(l);
    link_lo_ = static_cast<std::uint16_t>(a);
    link_hi_ = static_cast<std::uint32_t>(a >> 16);
  }
  Level acquire_in_class_slow(detail::CpuRecord& cpu, std::source_location where);
  bool release_in_class(detail::CpuRecord& cpu, detail::HeldEntry& e, Level previous, std::source_location where);

  friend struct LockAccess;
  friend struct LockFork;  // src/lock.cpp: a fork() child takes back its dead waiters' marks
};


namespace detail {
// A held-lock slot's flag (HeldEntry's flag bits 48-55): the slot holds a same-class group taken
// through acquire_in_class(); its key names the group's top lock, which links to the ones below.
inline constexpr std::uint64_t kHeldSameClass = 1ull << 50;
}  // namespace detail

// --- fast paths --------------------------------------------------------------------------------

// Always inlined, in every build (-O0 and sanitizers included), so the fast path costs the caller
// no call. The contended path hands `where` to wait_for_word(), which counts it as the call site.
[[gnu::always_inline]] inline Level Lock::acquire(std::source_location where) {
  detail::CpuRecord& cpu = detail::this_cpu();
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  const std::uint8_t mine = to_int(level_);
  if (mine <= current) [[unlikely]]
    return acquire_slow(cpu, where);  // R1, R2, or an R3 nested acquire
  // Raise first: from here this CPU's signal handler dispatches only interrupts above `mine`.
  cpu.level.store(mine, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
#ifdef SMPLOCK_UNIPROCESSOR
  // One CPU: nobody else can hold the word, so a plain store takes it. (Held by this CPU is
  // impossible here: the level check above would have sent us to the slow path.)
  if (word_.load(std::memory_order_relaxed) != 0) [[unlikely]]
    wait_for_word(cpu, where);
  word_.store(cpu.tag, std::memory_order_relaxed);
#else
  // free -> held. Acquire pairs with the release store of the previous owner's release().
  std::uint32_t expected = 0;
  if (!word_.compare_exchange_strong(expected, cpu.tag, std::memory_order_acquire,
                                     std::memory_order_relaxed)) [[unlikely]]
    wait_for_word(cpu, where);
#endif
  note_acquired(cpu, mine, static_cast<Level>(current), where);
  return static_cast<Level>(current);
}

inline void Lock::release(Level previous, std::source_location where) {
  detail::CpuRecord& cpu = detail::this_cpu();
  const std::uint8_t mine = to_int(level_);
  detail::HeldEntry& e = cpu.held[mine];
  // The common case: this lock is the top one, released to the level its acquire returned, not
  // nested, not timed. Anything else (and every broken rule) goes to the slow path.
  if (cpu.level.load(std::memory_order_relaxed) != mine ||
      e.key != detail::HeldEntry::make_key(this, to_int(previous))) [[unlikely]]
    return release_slow(cpu, previous, where);
  e.key = 0;
  free_word(cpu, to_int(previous));
}

inline bool Lock::try_acquire(Level& previous, std::source_location where) {
  detail::CpuRecord& cpu = detail::this_cpu();
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  const std::uint8_t mine = to_int(level_);
  if (mine <= current || word_.load(std::memory_order_relaxed) != 0) [[unlikely]]
    return try_acquire_slow(cpu, previous, where);
  cpu.level.store(mine, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
#ifdef SMPLOCK_UNIPROCESSOR
  word_.store(cpu.tag, std::memory_order_relaxed);
#else
  std::uint32_t expected = 0;
  if (!word_.compare_exchange_strong(expected, cpu.tag, std::memory_order_acquire,
                                     std::memory_order_relaxed)) {
    // Busy after all: back down to where we were (and take any interrupt that came meanwhile).
    detail::drop_level(cpu, current);
    return false;
  }
#endif
  note_acquired(cpu, mine, static_cast<Level>(current), where);
  previous = static_cast<Level>(current);
  return true;
}

// --- raising the level without a lock -----------------------------------------------------------

namespace detail {
// What a raised level's held-lock slot names instead of a lock: never acquired, never released.
extern Lock g_raised_level;
[[noreturn]] void raise_level_slow(CpuRecord& cpu, Level level, std::source_location where);
void lower_level_slow(CpuRecord& cpu, Level previous, std::source_location where);
}  // namespace detail

// raise_level(level): raises this CPU to `level` and returns the level to pass to lower_level().
// The level occupies its slot like a lock would, so every rule holds as for a lock at that level
// held by this CPU: raising below the CPU's level crashes (R1), raising to the level it is at crashes
// (R2), a lock at or below the raised level cannot be taken (R1/R2) or released (R4) until the
// level is lowered again. What it is for: data that only this CPU touches, shared with its own
// interrupt handlers or softints (per-CPU caches), which a shared lock would protect at the price of
// a locked instruction. Interrupts raised meanwhile are held back and delivered by lower_level().
[[nodiscard, gnu::always_inline]] inline Level raise_level(
    Level level, std::source_location where = std::source_location::current()) {
  detail::CpuRecord& cpu = detail::this_cpu();
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  const std::uint8_t to = to_int(level);
  if (to <= current) [[unlikely]]
    detail::raise_level_slow(cpu, level, where);  // R1 or R2: crashes
  cpu.level.store(to, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_seq_cst);
  detail::HeldEntry& e = cpu.held[to];
  e.key = detail::HeldEntry::make_key(&detail::g_raised_level, current);
  e.where = where;
  return static_cast<Level>(current);
}

// lower_level(previous): undoes the raise_level() that returned `previous`, delivering whatever
// interrupts the lower level lets through. Crashes like a release: R4 unless the raise is the top
// of this CPU (no lock taken above it still held), R5 for a `previous` above the level or below
// the next lock still held.
[[gnu::always_inline]] inline void lower_level(Level previous,
                                               std::source_location where = std::source_location::current()) {
  detail::CpuRecord& cpu = detail::this_cpu();
  const std::uint8_t current = cpu.level.load(std::memory_order_relaxed);
  detail::HeldEntry& e = cpu.held[current];
  if (e.key != detail::HeldEntry::make_key(&detail::g_raised_level, to_int(previous))) [[unlikely]]
    return detail::lower_level_slow(cpu, previous, where);
  e.key = 0;
  detail::drop_level(cpu, to_int(previous));
}

// LevelGuard: raise_level() on construction, lower_level() on destruction.
class [[nodiscard]] LevelGuard {
 public:
  [[gnu::always_inline]] explicit LevelGuard(Level level,
                                             std::source_location where = std::source_location::current())
      : previous_(raise_level(level, where)) {}
  ~LevelGuard() { lower_level(previous_); }
  LevelGuard(const LevelGuard&) = delete;
  LevelGuard& operator=(const LevelGuard&) = delete;
  Level previous() const noexcept { return previous_; }

 private:
  const Level previous_;
};

// --- guards --------------------------------------------------------------------------------------

// Guard: acquire on construction, release on destruction. A crash in the release names the line
// the guard was made on (a destructor has no call site of its own).
class [[nodiscard]] Guard {
 public:
  [[gnu::always_inline]] explicit Guard(Lock& lock, std::source_location where = std::source_location::current())
      : lock_(lock), previous_(lock.acquire(where)), where_(where) {}
  ~Guard() { lock_.release(previous_, where_); }
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  Level previous() const noexcept { return previous_; }

 private:
  Lock& lock_;
  const Level previous_;
  const std::source_location where_;
};

namespace detail {
// A guard's first lock argument, converted from Lock& where the guard is made: the conversion's
// defaulted source_location is evaluated there, so a variadic guard (which cannot put a defaulted
// parameter after its pack) still learns the user's line.
struct SitedLock {
  Lock& lock;
  std::source_location where;
  SitedLock(Lock& l, std::source_location w = std::source_location::current()) noexcept : lock(l), where(w) {}
};
}  // namespace detail

// OrderedGuard: takes several locks lowest level first, releases them highest first. Two locks of
// one level are never held together (R2), so passing two such locks crashes. Each acquire names
// the line the guard is made on.
template <std::size_t N>
class [[nodiscard]] OrderedGuard {
 public:
  template <class... Locks>
    requires(sizeof...(Locks) + 1 == N)
  explicit OrderedGuard(detail::SitedLock first, Locks&... locks)
      : locks_{&first.lock, &locks...}, where_(first.where) {
    std::sort(locks_, locks_ + N, [](const Lock* a, const Lock* b) { return a->level() < b->level(); });
    for (std::size_t i = 0; i < N; ++i) previous_[i] = locks_[i]->acquire(where_);
  }
  ~OrderedGuard() {
    for (std::size_t i = N; i-- > 0;) locks_[i]->release(previous_[i], where_);
  }
  OrderedGuard(const OrderedGuard&) = delete;
  OrderedGuard& operator=(const OrderedGuard&) = delete;

 private:
  Lock* locks_[N];
  Level previous_[N]{};
  const std::source_location where_;  // where the guard was made: its acquires' and releases' site
};
template <class First, class... Locks>
OrderedGuard(First&, Locks&...) -> OrderedGuard<1 + sizeof...(Locks)>;

// ClassGuard: several locks of one class (same name and level) held together, taken in address
// order through Lock::acquire_in_class() and released highest address first. Passing locks of
// different classes crashes (R2). A lock passed twice is taken once (a nested acquire, R3).
template <std::size_t N>
class [[nodiscard]] ClassGuard {
 public:
  template <class... Locks>
    requires(sizeof...(Locks) + 1 == N)
  explicit ClassGuard(detail::SitedLock first, Locks&... locks) : locks_{&first.lock, &locks...}, where_(first.where) {
    std::sort(locks_, locks_ + N, [](const Lock* a, const Lock* b) { return std::less<const Lock*>{}(a, b); });
    for (std::size_t i = 0; i < N; ++i) previous_[i] = locks_[i]->acquire_in_class(where_);
  }
  ~ClassGuard() {
    for (std::size_t i = N; i-- > 0;) locks_[i]->release(previous_[i], where_);
  }
  ClassGuard(const ClassGuard&) = delete;
  ClassGuard& operator=(const ClassGuard&) = delete;

 private:
  Lock* locks_[N];
  Level previous_[N]{};
  const std::source_location where_;  // where the guard was made: its acquires' and releases' site
};
template <class First, class... Locks>
ClassGuard(First&, Locks&...) -> ClassGuard<1 + sizeof...(Locks)>;

}  // namespace smplock

#include "smplock/detail/std_locks.hpp"  // std::lock_guard & co. of a Lock name the user's line
