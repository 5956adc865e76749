// libsmplock-malloc.so: the C allocation functions on top of the default pool, for LD_PRELOAD.
//
// Everything here must work before any constructor has run and from any thread, attached or not:
// the pool is constant-initialised and sets itself up on first use; a thread becomes a CPU on its
// first malloc (at level Null, so R8 holds); frees from threads that are not (or no longer) CPUs
// go back lock-free. Out of memory is ENOMEM and a null pointer, as C expects, not a crash.
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "npp/pool.hpp"

namespace {

using smplock::npp::detail::c_free;
using smplock::npp::detail::c_malloc;
using smplock::npp::detail::default_state;
using smplock::npp::detail::pool_malloc;
using smplock::npp::detail::pool_usable_size;

constexpr std::size_t kOsPage = 4096;

inline void* allocate(std::size_t size, std::size_t alignment) {
  void* p = pool_malloc(default_state(), size, alignment, nullptr, false, {});
  if (p == nullptr) [[unlikely]]
    errno = ENOMEM;
  return p;
}

inline bool valid_alignment(std::size_t a) { return a != 0 && (a & (a - 1)) == 0; }

// Hold the pool's lock across fork() so the child never inherits it mid-change; the child also
// drops the caches of threads it does not have (pool.cpp, after_fork_child).
__attribute__((constructor)) void register_fork_handlers() {
  pthread_atfork(smplock::npp::detail::prepare_fork, smplock::npp::detail::after_fork,
                 smplock::npp::detail::after_fork_child);
}

}  // namespace

extern "C" {

#define SMPLOCK_EXPORT __attribute__((visibility("default")))

// malloc and free are one jump each to the pool's C entry points (errno set there).
SMPLOCK_EXPORT void* malloc(std::size_t size) { return c_malloc(size); }

SMPLOCK_EXPORT void free(void* p) { c_free(p); }

SMPLOCK_EXPORT void cfree(void* p) { c_free(p); }

SMPLOCK_EXPORT void* calloc(std::size_t n, std::size_t size) {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return smplock::npp::detail::c_calloc(bytes);
}

SMPLOCK_EXPORT void* realloc(void* old, std::size_t size) { return smplock::npp::detail::c_realloc(old, size); }

SMPLOCK_EXPORT void* reallocarray(void* old, std::size_t n, std::size_t size) {
  std::size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(old, bytes);
}

SMPLOCK_EXPORT int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
  if (!valid_alignment(alignment) || alignment % sizeof(void*) != 0) return EINVAL;
  void* p = pool_malloc(default_state(), size, alignment, nullptr, false, {});
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

SMPLOCK_EXPORT void* aligned_alloc(std::size_t alignment, std::size_t size) {
  if (!valid_alignment(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return allocate(size, alignment);
}

SMPLOCK_EXPORT void* memalign(std::size_t alignment, std::size_t size) {
  if (!valid_alignment(alignment)) {
    errno = EINVAL;
    return nullptr;
  }
  return allocate(size, alignment);
}

SMPLOCK_EXPORT void* valloc(std::size_t size) { return allocate(size, kOsPage); }

SMPLOCK_EXPORT void* pvalloc(std::size_t size) {
  const std::size_t rounded = (size + kOsPage - 1) & ~(kOsPage - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return allocate(rounded == 0 ? kOsPage : rounded, kOsPage);
}

SMPLOCK_EXPORT std::size_t malloc_usable_size(void* p) {
  return p == nullptr ? 0 : pool_usable_size(default_state(), p);
}

}  // extern "C"
