// The malloc side of libsmplock-record.so: malloc, calloc, realloc, reallocarray, free,
// posix_memalign, aligned_alloc, memalign, valloc, pvalloc and the global operator new are
// interposed, and each live block is kept in a lock-free table (start, size, allocation site), so
// that a lock found inside a block gets the block's allocation site and its offset as its class
// (heap.hpp). Freeing a block in which a lock was seen forgets the lock instances inside it: the
// address, reused by another block, holds a new lock of another class.
//
// The site is one return address, taken for free with __builtin_return_address: unwinding even
// four frames costs about 440 ns a call (measured on this project's build machine), twenty times a
// malloc. So `new` is interposed too and hands its caller's address to the malloc it calls (the
// code after operator new is the program's, with std::make_unique and std::allocator inlined into
// it, which the finisher expands and skips); a program's own malloc wrapper is named as the site.
//
// Bootstrap: the real functions come from dlsym(RTLD_NEXT) on first use; dlsym may itself
// allocate, and what it asks for while this thread resolves is served from a static buffer, whose
// blocks are never passed to the real free or realloc.
//
// The table: 2^23 slots of 16 bytes (128 MiB of address space, NORESERVE: pages are touched as
// blocks land in them). A slot is one word, start | min(size, 0x7fff) << 48 | lock-seen << 63, and
// the site. A block's home slot follows its address (start / 32 plus a hash of the 64 MiB region
// it lies in), so neighbouring blocks share table pages and the table's resident size follows the
// heap's; up to 64 slots are probed from the home. A block with no free slot there is not kept
// (counted; its locks fall back to first use). Writers claim a slot with a CAS to "busy", fill it,
// and publish the word with a release store; no lock anywhere, so a signal handler that allocates
// cannot deadlock here, and a fork child inherits a consistent table (a slot another thread was
// filling at the fork stays busy: that one block is not seen).
#include <dlfcn.h>
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <new>

#include "heap.hpp"
#include "runtime.hpp"

#define SMPLOCK_EXPORT extern "C" __attribute__((visibility("default")))

namespace smplock::record {
namespace {

// --- the block table -------------------------------------------------------------------------------

constexpr std::uint64_t kEmpty = 0, kTomb = 1, kBusy = 2;
constexpr std::uint64_t kAddrMask = (std::uint64_t{1} << 48) - 1;
constexpr int kSizeShift = 48;
constexpr std::uint64_t kSizeCap = 0x7fff;
constexpr std::uint64_t kLockSeen = std::uint64_t{1} << 63;
constexpr std::size_t kSlots = std::size_t{1} << 23;
constexpr std::size_t kWindow = 64;

struct Slot {
  std::atomic<std::uint64_t> word;
  std::atomic<std::uintptr_t> site;
};

std::atomic<Slot*> g_table{nullptr};
std::atomic<bool> g_table_failed{false};
std::atomic<std::uint64_t> g_untracked{0};

Slot* table() {
  Slot* t = g_table.load(std::memory_order_acquire);
  if (__builtin_expect(t != nullptr, 1)) return t;
  if (g_table_failed.load(std::memory_order_relaxed)) return nullptr;
  void* p = mmap(nullptr, kSlots * sizeof(Slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    g_table_failed.store(true, std::memory_order_relaxed);
    return nullptr;
  }
  Slot* expected = nullptr;
  if (!g_table.compare_exchange_strong(expected, static_cast<Slot*>(p), std::memory_order_acq_rel)) {
    munmap(p, kSlots * sizeof(Slot));  // another thread made it first
    return expected;
  }
  return static_cast<Slot*>(p);
}

inline std::size_t home(std::uintptr_t s) {
  const std::uint64_t region = (static_cast<std::uint64_t>(s) >> 26) * 0x9E3779B97F4A7C15ULL;
  return static_cast<std::size_t>((s >> 5) + (region >> 40)) & (kSlots - 1);
}

inline std::uint64_t word_of(std::uintptr_t s, std::size_t size, bool lock_seen) {
  const std::uint64_t capped = size < kSizeCap ? size : kSizeCap;
  return s | capped << kSizeShift | (lock_seen ? kLockSeen : 0);
}

inline bool holds(std::uint64_t w, std::uintptr_t s) { return w > kBusy && (w & kAddrMask) == s; }

inline void fill(Slot& sl, std::uint64_t w, std::uintptr_t site) {
  sl.site.store(site, std::memory_order_relaxed);
  sl.word.store(w, std::memory_order_release);
}

void insert(std::uintptr_t s, std::size_t size, std::uintptr_t site, bool lock_seen = false) {
  Slot* t = table();
  if (t == nullptr || s > kAddrMask || s <= kBusy) {
    g_untracked.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::uint64_t w = word_of(s, size, lock_seen);
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::size_t h = home(s);
    Slot* free_slot = nullptr;
    std::uint64_t free_word = 0;
    bool raced = false;
    for (std::size_t k = 0; k < kWindow; ++k) {
      Slot& sl = t[(h + k) & (kSlots - 1)];
      std::uint64_t cur = sl.word.load(std::memory_order_acquire);
      if (holds(cur, s)) {
        // A stale entry (its block went back through a path not interposed): this one replaces it.
        if (sl.word.compare_exchange_strong(cur, kBusy, std::memory_order_acquire)) {
          fill(sl, w, site);
          return;
        }
        raced = true;
        break;
      }
      // The first free slot is taken: a stale entry for `s` further on is shadowed by this one
      // (lookups take the first match), and scanning on past tombstones cost 64 probes a malloc.
      if (cur == kEmpty || cur == kTomb) {
        free_slot = &sl;
        free_word = cur;
        break;
      }
    }
    if (raced) continue;
    if (free_slot == nullptr) break;
    if (free_slot->word.compare_exchange_strong(free_word, kBusy, std::memory_order_acquire)) {
      fill(*free_slot, w, site);
      return;
    }
  }
  g_untracked.fetch_add(1, std::memory_order_relaxed);
}

// Takes `s` out of the table; its word and site, when it was there.
bool remove(std::uintptr_t s, std::uint64_t& old_word, std::uintptr_t& old_site) {
  Slot* t = g_table.load(std::memory_order_acquire);
  if (t == nullptr) return false;
  const std::size_t h = home(s);
  for (std::size_t k = 0; k < kWindow; ++k) {
    Slot& sl = t[(h + k) & (kSlots - 1)];
    std::uint64_t cur = sl.word.load(std::memory_order_acquire);
    if (cur == kEmpty) return false;
    while (holds(cur, s)) {
      const std::uintptr_t site = sl.site.load(std::memory_order_relaxed);
      if (sl.word.compare_exchange_weak(cur, kTomb, std::memory_order_acq_rel)) {
        old_word = cur;
        old_site = site;
        return true;
      }
    }
  }
  return false;
}

Slot* find(Slot* t, std::uintptr_t s, std::uint64_t& word) {
  const std::size_t h = home(s);
  for (std::size_t k = 0; k < kWindow; ++k) {
    Slot& sl = t[(h + k) & (kSlots - 1)];
    const std::uint64_t cur = sl.word.load(std::memory_order_acquire);
    if (cur == kEmpty) return nullptr;
    if (holds(cur, s)) {
      word = cur;
      return &sl;
    }
  }
  return nullptr;
}

// The lock instances a freed block held are forgotten (only blocks a lock was found in).
void forget_block(std::uint64_t w) {
  if ((w & kLockSeen) == 0) return;
  const std::uintptr_t s = w & kAddrMask;
  const std::uintptr_t size = (w >> kSizeShift) & kSizeCap;
  const std::uintptr_t reach = kHeapReach + 16;  // heap_block_of looks from addr & ~15 down kHeapReach
  forget_instances_in(s, s + (size < reach ? size : reach));
}

// --- the real functions ----------------------------------------------------------------------------

struct Reals {
  std::atomic<void* (*)(std::size_t)> malloc{nullptr};
  std::atomic<void* (*)(std::size_t, std::size_t)> calloc{nullptr};
  std::atomic<void* (*)(void*, std::size_t)> realloc{nullptr};
  std::atomic<void (*)(void*)> free{nullptr};
  std::atomic<int (*)(void**, std::size_t, std::size_t)> posix_memalign{nullptr};
  std::atomic<void* (*)(std::size_t, std::size_t)> aligned_alloc{nullptr};
  std::atomic<void* (*)(std::size_t, std::size_t)> memalign{nullptr};
  std::atomic<void* (*)(std::size_t)> valloc{nullptr};
  std::atomic<void* (*)(std::size_t)> pvalloc{nullptr};
};
Reals g_real;

__thread bool t_resolving __attribute__((tls_model("initial-exec"))) = false;
// The caller of operator new, for the malloc it calls (taken, and cleared, by that malloc).
__thread std::uintptr_t t_site __attribute__((tls_model("initial-exec"))) = 0;

template <typename F>
void resolve_one(std::atomic<F>& slot, const char* name) {
  slot.store(reinterpret_cast<F>(dlsym(RTLD_NEXT, name)), std::memory_order_release);
}

// False while this thread is inside dlsym (its allocations come from the bootstrap buffer).
bool resolve() {
  if (t_resolving) return false;
  t_resolving = true;
  resolve_one(g_real.free, "free");
  resolve_one(g_real.calloc, "calloc");
  resolve_one(g_real.realloc, "realloc");
  resolve_one(g_real.posix_memalign, "posix_memalign");
  resolve_one(g_real.aligned_alloc, "aligned_alloc");
  resolve_one(g_real.memalign, "memalign");
  resolve_one(g_real.valloc, "valloc");
  resolve_one(g_real.pvalloc, "pvalloc");
  resolve_one(g_real.malloc, "malloc");  // last: the hot path tests this one
  t_resolving = false;
  return true;
}

template <typename F>
inline F real(std::atomic<F>& slot) {
  F f = slot.load(std::memory_order_relaxed);
  if (__builtin_expect(f != nullptr, 1)) return f;
  if (g_real.malloc.load(std::memory_order_acquire) == nullptr && !resolve()) return nullptr;
  return slot.load(std::memory_order_acquire);
}

// --- the bootstrap buffer ----------------------------------------------------------------------------

constexpr std::size_t kBoot = 64 * 1024;
alignas(64) char g_boot[kBoot];
std::atomic<std::size_t> g_boot_used{0};

void* boot_alloc(std::size_t n, std::size_t align = 16) {
  if (align < 16) align = 16;
  const std::size_t need = ((n + 15) & ~std::size_t{15}) + 16 + align;
  const std::size_t at = g_boot_used.fetch_add(need, std::memory_order_relaxed);
  if (at + need > kBoot || need < n) return nullptr;
  std::uintptr_t p = reinterpret_cast<std::uintptr_t>(g_boot + at + 16);
  p = (p + align - 1) & ~(align - 1);
  std::memcpy(reinterpret_cast<void*>(p - sizeof(std::size_t)), &n, sizeof n);  // its size, for realloc
  return reinterpret_cast<void*>(p);
}

inline bool boot_owns(const void* p) {
  return p >= static_cast<const void*>(g_boot) && p < static_cast<const void*>(g_boot + kBoot);
}

std::size_t boot_size(const void* p) {
  std::size_t n;
  std::memcpy(&n, static_cast<const char*>(p) - sizeof n, sizeof n);
  return n;
}

inline std::uintptr_t site_of(void* ra) {
  const std::uintptr_t hint = t_site;
  if (hint != 0) {
    t_site = 0;
    return hint;
  }
  return reinterpret_cast<std::uintptr_t>(ra);
}

inline void* noted(void* p, std::size_t n, std::uintptr_t site) {
  if (p != nullptr) insert(reinterpret_cast<std::uintptr_t>(p), n, site);
  return p;
}

void* do_realloc(void* p, std::size_t n, std::uintptr_t site) {
  auto f = real(g_real.realloc);
  if (f == nullptr || boot_owns(p)) {
    // During bootstrap, or a bootstrap block grown: a fresh block and a copy.
    auto m = real(g_real.malloc);
    void* q = m != nullptr ? m(n) : boot_alloc(n);
    if (q != nullptr && m != nullptr) insert(reinterpret_cast<std::uintptr_t>(q), n, site);
    if (q != nullptr && p != nullptr) {
      const std::size_t old = boot_owns(p) ? boot_size(p) : 0;
      std::memcpy(q, p, old < n ? old : n);
    }
    return q;
  }
  if (p == nullptr) return noted(f(nullptr, n), n, site);
  std::uint64_t w = 0;
  std::uintptr_t old_site = 0;
  const bool had = remove(reinterpret_cast<std::uintptr_t>(p), w, old_site);
  void* q = f(p, n);
  if (q == nullptr) {
    if (had && n != 0) {
      insert(reinterpret_cast<std::uintptr_t>(p), (w >> kSizeShift) & kSizeCap, old_site, (w & kLockSeen) != 0);
    } else if (had) {
      forget_block(w);  // realloc(p, 0) freed it
    }
    return q;
  }
  if (q == p && had) {
    // Resized in place: the same object, made where it was made.
    insert(reinterpret_cast<std::uintptr_t>(q), n, old_site, (w & kLockSeen) != 0);
    return q;
  }
  insert(reinterpret_cast<std::uintptr_t>(q), n, site);
  if (had) forget_block(w);  // moved: the locks at the old addresses are gone
  return q;
}

}  // namespace

bool heap_block_of(std::uintptr_t addr, HeapBlock& out) {
  Slot* t = g_table.load(std::memory_order_acquire);
  if (t == nullptr) return false;
  const std::uintptr_t top = addr & ~std::uintptr_t{15};
  for (std::uintptr_t d = 0; d <= kHeapReach && d <= top; d += 16) {
    const std::uintptr_t s = top - d;
    std::uint64_t w = 0;
    Slot* sl = find(t, s, w);
    if (sl == nullptr) continue;
    // The nearest block below: live blocks do not overlap, so no lower one can hold `addr`.
    if (addr - s >= ((w >> kSizeShift) & kSizeCap)) return false;
    const std::uintptr_t site = sl->site.load(std::memory_order_relaxed);
    std::uint64_t cur = w;
    while (holds(cur, s) && (cur & kLockSeen) == 0 &&
           !sl->word.compare_exchange_weak(cur, cur | kLockSeen, std::memory_order_acq_rel)) {
    }
    if (!holds(cur, s)) return false;  // freed meanwhile
    out.start = s;
    out.site = site;
    return true;
  }
  return false;
}

std::uint64_t heap_untracked() { return g_untracked.load(std::memory_order_relaxed); }

}  // namespace smplock::record

using namespace smplock::record;

// --- the C allocation calls ----------------------------------------------------------------------

SMPLOCK_EXPORT void* malloc(std::size_t n) {
  auto f = real(g_real.malloc);
  if (__builtin_expect(f == nullptr, 0)) return boot_alloc(n);
  return noted(f(n), n, site_of(__builtin_return_address(0)));
}

SMPLOCK_EXPORT void* calloc(std::size_t count, std::size_t size) {
  auto f = real(g_real.calloc);
  if (__builtin_expect(f == nullptr, 0)) {
    std::size_t n;
    if (__builtin_mul_overflow(count, size, &n)) return nullptr;
    return boot_alloc(n);  // static memory, never handed out before: zero
  }
  return noted(f(count, size), count * size, site_of(__builtin_return_address(0)));
}

SMPLOCK_EXPORT void* realloc(void* p, std::size_t n) { return do_realloc(p, n, site_of(__builtin_return_address(0))); }

SMPLOCK_EXPORT void* reallocarray(void* p, std::size_t count, std::size_t size) {
  std::size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  return do_realloc(p, n, site_of(__builtin_return_address(0)));
}

SMPLOCK_EXPORT void free(void* p) {
  if (p == nullptr || boot_owns(p)) return;  // bootstrap blocks are never given back
  std::uint64_t w = 0;
  std::uintptr_t site = 0;
  if (remove(reinterpret_cast<std::uintptr_t>(p), w, site)) forget_block(w);
  if (auto f = real(g_real.free)) f(p);
}

SMPLOCK_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t n) {
  auto f = real(g_real.posix_memalign);
  if (f == nullptr) {
    *out = boot_alloc(n, align);
    return *out != nullptr ? 0 : ENOMEM;
  }
  const int r = f(out, align, n);
  if (r == 0) noted(*out, n, site_of(__builtin_return_address(0)));
  return r;
}

SMPLOCK_EXPORT void* aligned_alloc(std::size_t align, std::size_t n) {
  auto f = real(g_real.aligned_alloc);
  if (f == nullptr) return boot_alloc(n, align);
  return noted(f(align, n), n, site_of(__builtin_return_address(0)));
}

SMPLOCK_EXPORT void* memalign(std::size_t align, std::size_t n) {
  auto f = real(g_real.memalign);
  if (f == nullptr) return boot_alloc(n, align);
  return noted(f(align, n), n, site_of(__builtin_return_address(0)));
}

SMPLOCK_EXPORT void* valloc(std::size_t n) {
  auto f = real(g_real.valloc);
  if (f == nullptr) return boot_alloc(n, 4096);
  return noted(f(n), n, site_of(__builtin_return_address(0)));
}

SMPLOCK_EXPORT void* pvalloc(std::size_t n) {
  auto f = real(g_real.pvalloc);
  if (f == nullptr) return boot_alloc((n + 4095) & ~std::size_t{4095}, 4096);
  return noted(f(n), n, site_of(__builtin_return_address(0)));
}

// --- the global operator new ----------------------------------------------------------------------
// Each calls the real one (libstdc++'s, found on first use), having told the malloc inside it who
// called new. The nothrow and array forms, and the aligned ones, all the same way.

namespace {

template <typename F>
F real_new(std::atomic<F>& slot, const char* name) {
  F f = slot.load(std::memory_order_relaxed);
  if (__builtin_expect(f != nullptr, 1)) return f;
  f = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
  slot.store(f, std::memory_order_release);
  return f;
}

using New = void* (*)(std::size_t);
using NewNothrow = void* (*)(std::size_t, const std::nothrow_t&);
using NewAligned = void* (*)(std::size_t, std::align_val_t);
using NewAlignedNothrow = void* (*)(std::size_t, std::align_val_t, const std::nothrow_t&);
std::atomic<New> g_new{nullptr}, g_new_array{nullptr};
std::atomic<NewNothrow> g_new_nothrow{nullptr}, g_new_array_nothrow{nullptr};
std::atomic<NewAligned> g_new_aligned{nullptr}, g_new_array_aligned{nullptr};
std::atomic<NewAlignedNothrow> g_new_aligned_nothrow{nullptr}, g_new_array_aligned_nothrow{nullptr};

// Without libstdc++ below us (impossible for a caller of new, kept for safety): plain malloc.
inline void* fallback(std::size_t n, std::size_t align) {
  return align <= 16 ? malloc(n == 0 ? 1 : n) : aligned_alloc(align, (n + align - 1) & ~(align - 1));
}

}  // namespace

// libstdc++'s nothrow and array forms call the plain operator new, which lands here again: the
// outermost caller is the site.
#define SMPLOCK_NEW_BODY(slot, name, align, ...)                                          \
  const bool outer = t_site == 0;                                                           \
  if (outer) t_site = reinterpret_cast<std::uintptr_t>(__builtin_return_address(0));       \
  auto f = real_new(slot, name);                                                            \
  void* p = f != nullptr ? f(__VA_ARGS__) : fallback(n, align);                             \
  if (outer) t_site = 0;                                                                    \
  return p;

__attribute__((visibility("default"))) void* operator new(std::size_t n) {
  SMPLOCK_NEW_BODY(g_new, "_Znwm", 16, n)
}
__attribute__((visibility("default"))) void* operator new[](std::size_t n) {
  SMPLOCK_NEW_BODY(g_new_array, "_Znam", 16, n)
}
__attribute__((visibility("default"))) void* operator new(std::size_t n, const std::nothrow_t& nt) noexcept {
  SMPLOCK_NEW_BODY(g_new_nothrow, "_ZnwmRKSt9nothrow_t", 16, n, nt)
}
__attribute__((visibility("default"))) void* operator new[](std::size_t n, const std::nothrow_t& nt) noexcept {
  SMPLOCK_NEW_BODY(g_new_array_nothrow, "_ZnamRKSt9nothrow_t", 16, n, nt)
}
__attribute__((visibility("default"))) void* operator new(std::size_t n, std::align_val_t a) {
  SMPLOCK_NEW_BODY(g_new_aligned, "_ZnwmSt11align_val_t", static_cast<std::size_t>(a), n, a)
}
__attribute__((visibility("default"))) void* operator new[](std::size_t n, std::align_val_t a) {
  SMPLOCK_NEW_BODY(g_new_array_aligned, "_ZnamSt11align_val_t", static_cast<std::size_t>(a), n, a)
}
__attribute__((visibility("default"))) void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t& nt) noexcept {
  SMPLOCK_NEW_BODY(g_new_aligned_nothrow, "_ZnwmSt11align_val_tRKSt9nothrow_t", static_cast<std::size_t>(a), n, a, nt)
}
__attribute__((visibility("default"))) void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t& nt) noexcept {
  SMPLOCK_NEW_BODY(g_new_array_aligned_nothrow, "_ZnamSt11align_val_tRKSt9nothrow_t", static_cast<std::size_t>(a), n, a, nt)
}
