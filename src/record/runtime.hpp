// libsmplock-record.so's runtime: the state the interposed pthread calls share (lock instances,
// lock classes, order edges, per-thread held stacks and counters) and the entry points the
// interposers call. It is its own small runtime, not the smplock library: no signal handler (but
// the record tool's fatal-signal trace writer, signals.hpp), no thread, no CPU attach, no malloc
// (everything comes from mmap), so it can live inside any program.
//
// Hot path (a lock call on a thread that holds nothing): one TLS load, one probe of the
// lock->instance table, the real trylock, two per-thread counter stores, a push on the held stack.
// Everything else (a new lock, a new class, a new edge, a contended wait) is cold and may take the
// runtime's own spin lock, unwind the stack and allocate.
//
// Under `smplock enforce` (issue 13, enforce.hpp) a class also gets a level from a table loaded at
// start, and a blocking acquisition is checked against the levels held before it can wait; without
// -o no edges are recorded and no trace is written.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace smplock::record {

// What kind of lock an instance is (the trace's CLASS.kind).
enum class Kind : std::uint8_t { Mutex, Recursive, Rwlock, Spin, Mtx };
// How its class was chosen (the trace's CLASS.how): a global's symbol, the init call's site, the
// allocation site of the heap block it lies in plus its offset there (heap.hpp), or failing all of
// those its first acquisition's site.
enum class How : std::uint8_t { Symbol, Init, FirstUse, Alloc };

const char* kind_name(Kind k);
const char* how_name(How h);

// Return addresses, innermost first, the runtime's own frames left out.
inline constexpr int kMaxFrames = 12;
struct Stack {
  std::uint32_t n = 0;
  std::uintptr_t pc[kMaxFrames] = {};
};

// Fills `s` with the caller's stack (cold: unwinds with libgcc, no lock on glibc >= 2.35).
void capture(Stack& s);

// Calls into the real pthread functions made while this is set pass straight through: the runtime's
// own cold work (unwinding, dlsym, writing the trace) may lock, and must not be recorded or recurse.
class Inside {
 public:
  Inside();
  ~Inside();
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;

 private:
  void* saved_;
};

// How a lock was taken.
struct Acquire {
  Kind kind;
  bool read = false;      // an rwlock read lock
  bool trylock = false;   // the call could not block (an edge so made is not "blocking")
  bool contended = false; // the first try failed
  std::uint64_t wait_ns = 0;
  std::uintptr_t pc = 0;  // the interposed call's return address
};

struct Thread;

// The calling thread's record, or nullptr when this call must not be recorded (inside the runtime,
// a thread past its exit destructor, the runtime not started).
Thread* self();

// The lock's instance value (class id) for `lock`, made on first sight (cold). `init` says the call
// is pthread_mutex_init or alike, which always makes a new instance (a lock re-made at an address).
std::uint32_t instance_of(const void* lock, Kind kind, std::uintptr_t pc, bool init);
// A destroyed lock: its address, reused, is a new instance.
void forget_instance(const void* lock);
// A freed heap block that held locks: every instance in [lo, hi) is forgotten (heap.cpp calls it
// from free; nothing is done while the calling thread is inside the runtime).
void forget_instances_in(std::uintptr_t lo, std::uintptr_t hi);

// Records a successful acquisition of `lock` (already held when this is called).
void after_acquire(Thread* t, const void* lock, std::uint32_t cls, const Acquire& a);
// Records a release; returns false when the thread did not hold it (taken before the runtime saw it).
bool before_release(Thread* t, const void* lock);

std::uint64_t now_ns();

// Sets the runtime up (from the library's constructor, after the real functions are resolved).
void start_runtime();
// Where the unwinder stops skipping: the runtime's own code range (set once at start).
void start_stacks();

// Writes this process's trace (once; at exit).
void write_trace();

}  // namespace smplock::record
