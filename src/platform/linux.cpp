// Linux: futex, clocks, thread ids, signals, fork handlers, page mappings.
#include "platform/platform.hpp"

#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

namespace smplock::platform {

std::uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

void yield_cpu() { sched_yield(); }

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected, std::uint64_t timeout_ns) {
  timespec ts{};
  timespec* tp = nullptr;
  if (timeout_ns != 0) {
    ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000u);
    ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000u);
    tp = &ts;
  }
  // std::atomic<uint32_t> has the layout of uint32_t (static_assert below), as futex needs.
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, tp, nullptr, 0) ==
         0;
}
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));

int futex_wake(std::atomic<std::uint32_t>& word, int count) {
  const long n = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
  return n > 0 ? static_cast<int>(n) : 0;
}

bool process_wide_barrier() {
  // Registered once per process (the kernel requires it before the first expedited barrier); a
  // kernel without membarrier answers -1, and the caller falls back. No function-local static: a
  // signal handler may get here first, and registering twice is harmless.
  static std::atomic<int> state{0};  // 0: not yet asked, 1: registered, 2: unavailable
  int s = state.load(std::memory_order_acquire);
  if (s == 0) {
    s = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1 : 2;
    state.store(s, std::memory_order_release);
  }
  return s == 1 && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

int thread_id() { return static_cast<int>(syscall(SYS_gettid)); }

bool signal_thread(int tid, int sig) {
  return syscall(SYS_tgkill, static_cast<int>(getpid()), tid, sig) == 0;
}

void write_all(int fd, const char* buf, std::size_t len) {
  while (len > 0) {
    const ssize_t n = ::write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    buf += n;
    len -= static_cast<std::size_t>(n);
  }
}

namespace {
pthread_key_t g_exit_key;
pthread_once_t g_exit_once = PTHREAD_ONCE_INIT;
// Every caller passes the same function; atomic only because threads attach concurrently.
std::atomic<void (*)(void*)> g_exit_fn{nullptr};
void make_key() { pthread_key_create(&g_exit_key, [](void* arg) { g_exit_fn.load(std::memory_order_relaxed)(arg); }); }
}  // namespace

void register_thread_exit(void (*fn)(void*), void* arg) {
  g_exit_fn.store(fn, std::memory_order_relaxed);  // ordered before any key destructor by pthread_once
  pthread_once(&g_exit_once, make_key);
  pthread_setspecific(g_exit_key, arg);
}

void on_fork_child(void (*fn)()) { pthread_atfork(nullptr, nullptr, fn); }

void* map_pages(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void unmap_pages(void* p, std::size_t bytes) { munmap(p, bytes); }

}  // namespace smplock::platform
