// smplock/pound.hpp: the pound workload, a small kernel run on N CPUs under a chosen lock set
// (target smplock::pound; `smplock pound` is its command line).
//
//   LockSetKind   a step of the seed's story: giant, coarse, pool, threads, ozone (which locks guard
//                 the kernel's data).
//   Step, story() the story: each step's lock set, what it split and into which classes.
//   Role          what a lock protects (the rows of DESIGN §3, plus CN for connections).
//   RoleLock      one row of a lock set: the role's level, class name and how many locks it has.
//   lock_set()    a lock set as data: every role's row.
//   Path          the kernel paths ("system calls") the simulated threads make.
//   Config        CPUs, seconds, lock set, seed, sizes, the user-mode time between system calls.
//   Result        what one run measured: operations per path, the contention snapshot, the pool,
//                 and the invariants checked at the end (empty `failures`: everything balanced).
//   run()         one lock set, `cpus` threads, `seconds` long.
//
// The kernel is the same code under every lock set: each of its objects asks the lock set for the
// lock of its role when it is made, so `giant` hands every object the one lock, `coarse` the
// seed's first short list, `pool` and `threads` the splits in between, and `ozone` the final
// table. docs/pound.md has the model and every path's lock order; smplock/pound_story.hpp runs the
// steps in rounds and tells the story.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smplock/level.hpp"
#include "smplock/stats.hpp"

namespace smplock::pound {

// The steps of the story, in order: giant (one lock), coarse (the first short list), pool (the
// pool's malloc lock-free in the common case), threads (thread state split into PS, TF, EV, TP,
// TC), ozone (physical memory split into PM and CP: the final table).
enum class LockSetKind : std::uint8_t { Giant, Coarse, Pool, Threads, Ozone };
inline constexpr unsigned kSteps = 5;
inline constexpr std::array<LockSetKind, kSteps> kLockSets = {
    LockSetKind::Giant, LockSetKind::Coarse, LockSetKind::Pool, LockSetKind::Threads, LockSetKind::Ozone};

std::string_view lock_set_name(LockSetKind kind);
std::optional<LockSetKind> parse_lock_set(std::string_view name);

// What a lock protects. The order is the order of the levels in the ozone set.
enum class Role : std::uint8_t {
  HT,  // a process's handle table
  VL,  // a volume (file map; held across a file's cache lookup and I/O start)
  CN,  // a connection's protocol state and receive queue (a level of the workload's own)
  DV,  // a device's driver state (NIC, disk)
  PT,  // a process's page table
  PM,  // physical memory: the free page list and page ownership
  CP,  // a block cache's hash and block lists
  PS,  // a process's state (syscall and tick accounting)
  TF,  // a process's thread family list
  EV,  // one event flag and its waiters
  TP,  // one thread's private state (run state, pending ASTs)
  TC,  // the COM (ready) queue
  PR,  // the process list and process id numbers
  SE,  // security profiles
  NP,  // the non-paged pool, where a lock set takes a lock for it
  QU,  // quota, where a lock set takes a lock for it
  kCount
};
inline constexpr unsigned kRoles = static_cast<unsigned>(Role::kCount);

// The level of the connection lock: a level of the workload's own, between VL and DV (a send
// holds its connection while it queues on the device).
inline constexpr Level kConnectionLevel = static_cast<Level>(0x24);
// The giant lock's level: below every lock the kernel takes besides its own (IRQ lines, the
// pool's internals), so any path that is legal with many locks is legal with the one.
inline constexpr Level kGiantLevel = static_cast<Level>(0x08);

// How many locks a role has in a lock set.
enum class Granularity : std::uint8_t {
  One,         // a single lock for every object of the role
  PerObject,   // one lock per object (per process, per volume, per thread...)
  LockFree,    // no lock: the role's data is lock-free (ozone's pool and quota)
};

struct RoleLock {
  Role role;
  Level level;            // the level its lock(s) sit at
  const char* name;       // the lock class name in the statistics ("TS", "PM", "GIANT")
  Granularity granularity;
  const char* note;       // what this set does with the role, one line
};

// The table of one lock set, one row per role, in Role order.
const std::array<RoleLock, kRoles>& lock_set(LockSetKind kind);

// One step of the story: its lock set and what it changed from the step before.
struct Step {
  LockSetKind locks;
  const char* title;      // what the step is, a few words
  const char* changed;    // what it changed from the step before, one line ("" for the first)
  const char* split;      // the lock class it split (a class of the step before; "" for the first)
  std::array<const char*, 5> into;  // the classes that took over the split one's data here (all
                                    // null: the whole short list, for coarse)
};
// The five steps, in kLockSets order.
const std::array<Step, kSteps>& story();
std::string_view role_name(Role role);
std::string_view role_description(Role role);

// The paths, each one "system call" (or user-mode stretch) of a simulated thread.
enum class Path : std::uint8_t {
  NetSend,     // build a packet, queue it on the NIC; the NIC IRQ loops it back
  NetRecv,     // take a packet off a connection, waiting on its event flag while one is in flight
  DiskRead,    // read a file block through the block cache; a miss waits for the disk IRQ
  PageFault,   // map a page of the process (physical page, quota)
  Unmap,       // unmap a range of the process's pages
  EventPost,   // set a sibling thread's event flag (waking it if it waits)
  EventPoll,   // consume this thread's event flag if set
  FamilySignal,// post an AST to every thread of the family
  ProcInfo,    // find a process by id, read its state
  ProcSpawn,   // create or delete a short-lived process (id, security profile, handle table)
  HandleOpen,  // open or close a handle on a new object
  UserWork,    // user-mode computation, no lock at all
  kCount
};
inline constexpr unsigned kPaths = static_cast<unsigned>(Path::kCount);
std::string_view path_name(Path path);

// The default user-mode stretch: about as long as an average system call of the final table (250-300
// ns of CPU on one CPU of the 2-core guests pound was measured on), so a CPU spends about half its
// time in user mode, as a system-call heavy server does. docs/pound.md says why.
inline constexpr double kDefaultUserNs = 300;

struct Config {
  unsigned cpus = 2;
  double seconds = 3.0;
  LockSetKind locks = LockSetKind::Ozone;
  std::uint64_t seed = 1;
  unsigned processes = 8;           // processes with threads (more are spawned and reaped)
  unsigned threads_per_process = 4;
  unsigned timer_hz = 1000;         // timer IRQ rate per CPU
  // User mode between system calls: after each system call the thread computes this long (on its
  // own data, no lock) before its next one, as a real program does between calls. The seed's giant
  // lock is "released before returning to user mode", so this share is what a giant lock cannot
  // serialise. 0: a kernel-only load (every CPU in the kernel all the time).
  double user_ns = kDefaultUserNs;
  // Whether the timer thread samples the CPU threads' lock waits (see Result::waits_sampled).
  bool sample_waits = true;
};

// The pool's side of a run (from npp::Pool::stats() for ozone, the locked pool's own counts for
// the others).
struct PoolFigures {
  std::string kind;                 // "npp (lock-free fast path)" or "locked pool (NP lock on every call)"
  std::uint64_t mallocs = 0;
  std::uint64_t frees = 0;
  std::uint64_t lock_acquisitions = 0;
  double fast_hit_rate = 0;         // share of calls that took no lock
};

struct Result {
  LockSetKind locks = LockSetKind::Ozone;
  unsigned cpus = 0;
  double seconds = 0;                         // measured run time (the throughput window)
  // CPU time the CPU threads got, as a share of seconds * cpus (1.0: every CPU thread ran all the
  // time). Well below 1, other programs took the processors and the CPU threads rarely ran at once:
  // the contention figures then understate what the lock sets do.
  double cpu_share = 0;
  std::array<std::uint64_t, kPaths> ops{};    // completed per path
  std::uint64_t total_ops() const;
  double ops_per_second() const;
  std::uint64_t thread_switches = 0;
  std::uint64_t waits = 0;                    // times a thread blocked on an event flag
  std::uint64_t timer_ticks = 0;
  std::uint64_t lowipl_calls = 0;
  std::uint64_t disk_irps = 0;
  std::uint64_t packets = 0;
  std::uint64_t again = 0;                    // calls that found nothing to do (an empty socket,
                                              // no page to be had): EAGAIN
  std::uint64_t denied = 0;                   // calls refused by a security check
  PoolFigures pool;
  // What the machine took away: the time the CPU threads were ready to run but waited for a
  // processor (per-thread run delay from /proc/self/task/TID/schedstat, before and after), as a
  // share of seconds * cpus, and how often the OS switched them out (involuntary switches).
  double run_delay_share = -1;                // -1: schedstat could not be read
  std::uint64_t involuntary_switches = 0;
  double user_ns = 0;                         // the user-mode stretch the run used (Config::user_ns)
  // The timer thread's samples of the CPU threads' lock waits (about 1000 a second per CPU), each
  // one CPU thread found waiting for a lock, sorted by who held the run up: the holder was running
  // (the seed's contention), the holder's thread had lost its processor (a kernel never preempts
  // a spinlock's holder; user space can), or nobody held it any more and the waiter itself had
  // lost its processor. A thread "lost its processor"
  // when it ran less than half of the last tick and is runnable (a waiter parked in the lock
  // sleeps: it lost nothing).
  struct WaitSamples {
    std::string lock;                         // class name
    std::uint64_t running = 0, preempted_holder = 0, waiter_off_cpu = 0;
    std::uint64_t total() const { return running + preempted_holder + waiter_off_cpu; }
  };
  std::vector<WaitSamples> waits_sampled;     // one entry per class that was seen waited for
  stats::Snapshot snapshot;                   // contention over the run (cpus = the run's CPUs)
  std::vector<std::string> checks;            // invariants checked at the end, one line each
  std::vector<std::string> failures;          // those that did not hold (empty: all balanced)
};

// Progress while a run goes: seconds done, operations so far.
using Progress = std::function<void(double seconds_done, std::uint64_t ops)>;

// Runs the workload. Throws std::invalid_argument on a bad configuration (0 CPUs, more CPUs than
// the library allows, seconds not positive). The calling thread only waits: it never becomes a
// CPU. `progress` is called from the calling thread about every 100 ms.
Result run(const Config& config, const Progress& progress = {});

// The CPU model from /proc/cpuinfo ("unknown" if it cannot be read).
std::string cpu_model();

}  // namespace smplock::pound
