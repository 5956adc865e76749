// src/platform/platform.hpp: the only interface to the OS. One implementation file per OS
// (linux.cpp); every other source goes through these functions.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#if !defined(__linux__)
#error "smplock: no platform layer for this OS yet (see docs/porting.md)"
#endif

namespace smplock::platform {

// Monotonic time in nanoseconds (vDSO, no system call on Linux).
std::uint64_t now_ns();

// Sleeps while *word == expected, at most timeout_ns (0: no limit). Returns early on a wake, a
// signal, or a changed word; the caller always re-checks. True when a futex_wake() ended the sleep
// (false: a signal, the time limit, or a word that had already changed).
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::uint64_t timeout_ns);
// Wakes up to `count` sleepers on the word; returns how many it woke.
int futex_wake(std::atomic<std::uint32_t>& word, int count);

// A process-wide memory barrier (membarrier, private expedited): when it returns, every other
// thread of the process that was running has executed a full barrier, and any that was not will
// before it next runs. It pairs with a compiler-only barrier on the other side, so a hot path can
// order a store before a later load without a locked instruction, while the rare side pays the
// system call. False when the kernel offers no such barrier (nothing was done).
bool process_wide_barrier();

// Gives this thread's processor to another runnable thread, if there is one (sched_yield: a
// system call, async-signal-safe in practice: it takes no user-space lock).
void yield_cpu();

// The calling thread's kernel id.
int thread_id();
// Sends signal `sig` to thread `tid` of this process. Async-signal-safe.
bool signal_thread(int tid, int sig);

// Writes all of buf to fd, retrying on EINTR; async-signal-safe, allocates nothing.
void write_all(int fd, const char* buf, std::size_t len);

// One spin-wait hint to the CPU (x86 `pause`).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

// Runs fn(arg) when any thread that called register_thread_exit ends (pthread key destructor).
void register_thread_exit(void (*fn)(void*), void* arg);

// Runs fn() in the child of every fork(), before fork() returns there (pthread_atfork).
void on_fork_child(void (*fn)());

// Maps `bytes` of zeroed, private memory (rounded up to pages); nullptr when the OS has none. A
// system call only: no allocation, no lock, async-signal-safe. unmap_pages gives it back.
void* map_pages(std::size_t bytes);
void unmap_pages(void* p, std::size_t bytes);

}  // namespace smplock::platform
