// The kernel's memory. Two pools behind one interface:
//
//   LockedPool  the seed's original non-paged pool: size classes of 16 bytes carved from one
//               arena, every allocation and free under the NP lock, quota charged under the QU
//               lock inside it. giant and coarse use it (giant's NP and QU are the giant lock).
//   NppPool     smplock::npp: per-CPU caches with no lock in the common case, npp::Quota
//               charged with a compare-and-swap. ozone uses it.
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "kernel.hpp"

namespace smplock::pound::detail {
namespace {

class LockedPool final : public KernelPool {
 public:
  // 64 MiB of address space; only what the run touches becomes memory.
  static constexpr std::size_t kArenaBytes = std::size_t{64} << 20;
  static constexpr std::size_t kGranule = 16;
  static constexpr std::size_t kHeader = 16;      // each block's header: its class
  static constexpr std::size_t kMaxBlock = 4096;
  static constexpr unsigned kClasses = kMaxBlock / kGranule + 1;
  static constexpr std::uint32_t kLiveMagic = 0x4C495645;  // "LIVE"
  static constexpr std::uint32_t kFreeMagic = 0x46524545;  // "FREE"

  // A set whose NP role is lock-free (ozone, in a build without npp) still gets a lock here.
  explicit LockedPool(LockSet& locks) : np_(or_own(locks.make(Role::NP), own_np_)) {
    arena_ = static_cast<char*>(std::aligned_alloc(64, kArenaBytes));
    if (arena_ == nullptr) throw std::bad_alloc();
  }
  ~LockedPool() override { std::free(arena_); }

  void* alloc(std::size_t size, Quota* quota) override {
    const unsigned cls = class_of(size);
    Held np(np_);
    if (quota != nullptr) {
      // Quota is charged while allocating: NP, then QU above it.
      Held qu(qu_of(*quota));
      if (quota->used + block_bytes(cls) > quota->limit) return nullptr;
      quota->used += block_bytes(cls);
    }
    Header* h = free_[cls];
    if (h != nullptr) {
      free_[cls] = h->next;
    } else {
      const std::size_t need = kHeader + block_bytes(cls);
      if (top_ + need > kArenaBytes) throw std::runtime_error("pound: the locked pool's arena is full");
      h = reinterpret_cast<Header*>(arena_ + top_);
      top_ += need;
      h->cls = cls;
      h->magic = 0;
    }
    if (h->magic == kLiveMagic) throw std::logic_error("pound: locked pool handed out a live block");
    h->magic = kLiveMagic;
    h->next = nullptr;
    ++mallocs_;
    return reinterpret_cast<char*>(h) + kHeader;
  }

  void free(void* p, Quota* quota) override {
    Header* h = reinterpret_cast<Header*>(static_cast<char*>(p) - kHeader);
    Held np(np_);
    if (h->magic != kLiveMagic) throw std::logic_error("pound: locked pool: double free or foreign block");
    if (quota != nullptr) {
      Held qu(qu_of(*quota));
      quota->used -= block_bytes(h->cls);
    }
    h->magic = kFreeMagic;
    h->next = free_[h->cls];
    free_[h->cls] = h;
    ++frees_;
  }

  std::size_t charged_size(std::size_t size) const override { return block_bytes(class_of(size)); }

  bool charge(Quota& quota, std::size_t bytes) override {
    Held qu(qu_of(quota));
    if (quota.used + bytes > quota.limit) return false;
    quota.used += bytes;
    return true;
  }
  void credit(Quota& quota, std::size_t bytes) override {
    Held qu(qu_of(quota));
    quota.used -= bytes;
  }
  std::size_t used(const Quota& quota) const override { return quota.used; }

  std::int64_t live_blocks() const override {
    return static_cast<std::int64_t>(mallocs_ - frees_) - static_cast<std::int64_t>(mark_);
  }
  void mark() override { mark_ = mallocs_ - frees_; }

  PoolFigures figures() const override {
    PoolFigures f;
    f.kind = "locked pool (the NP lock on every call)";
    f.mallocs = mallocs_;
    f.frees = frees_;
    f.lock_acquisitions = mallocs_ + frees_;
    f.fast_hit_rate = 0;
    return f;
  }

 private:
  struct Header {
    std::uint32_t cls;
    std::uint32_t magic;
    Header* next;  // while free
  };
  static_assert(sizeof(Header) == kHeader);

  static unsigned class_of(std::size_t size) {
    if (size == 0) size = 1;
    if (size > kMaxBlock) throw std::invalid_argument("pound: locked pool block too large");
    return static_cast<unsigned>((size + kGranule - 1) / kGranule);
  }
  static std::size_t block_bytes(unsigned cls) { return std::size_t{cls} * kGranule; }

  static Lock* or_own(Lock* lock, Lock& own) { return lock != nullptr ? lock : &own; }
  Lock* qu_of(Quota& q) { return or_own(q.qu, own_qu_); }

  Lock own_np_{Level::NP, "NP"};
  Lock own_qu_{Level::QU, "QU"};
  Lock* const np_;
  char* arena_ = nullptr;
  // Under np_:
  std::size_t top_ = 0;
  Header* free_[kClasses]{};
  std::uint64_t mallocs_ = 0, frees_ = 0;
  std::uint64_t mark_ = 0;
};

#if SMPLOCK_POUND_HAVE_NPP
// One pool at NP for every ozone run of the process (a pool is never used again after it dies,
// so keeping one avoids tearing down per-CPU caches between runs).
npp::Pool& ozone_pool() {
  static npp::Pool* pool = new npp::Pool(Level::NP, "NP");
  return *pool;
}

class NppPool final : public KernelPool {
 public:
  NppPool() : pool_(ozone_pool()), base_(pool_.stats()) {}

  void* alloc(std::size_t size, Quota* quota) override {
    return quota != nullptr ? pool_.malloc(size, quota->npp) : pool_.malloc(size);
  }
  void free(void* p, Quota* quota) override {
    if (quota != nullptr)
      pool_.free(p, quota->npp);
    else
      pool_.free(p);
  }
  std::size_t charged_size(std::size_t size) const override { return npp::good_size(size); }
  void prepare_cpu() override { pool_.free(pool_.malloc(16)); }
  bool charge(Quota& quota, std::size_t bytes) override { return quota.npp.charge(bytes); }
  void credit(Quota& quota, std::size_t bytes) override { quota.npp.credit(bytes); }
  std::size_t used(const Quota& quota) const override { return quota.npp.used(); }

  std::int64_t live_blocks() const override {
    const npp::Stats s = pool_.stats();
    return static_cast<std::int64_t>(s.mallocs - base_.mallocs) - static_cast<std::int64_t>(s.frees - base_.frees) -
           mark_;
  }
  void mark() override { mark_ += live_blocks(); }

  PoolFigures figures() const override {
    const npp::Stats s = pool_.stats();
    PoolFigures f;
    f.kind = "npp (no lock in the common case)";
    f.mallocs = s.mallocs - base_.mallocs;
    f.frees = s.frees - base_.frees;
    f.lock_acquisitions = s.lock_acquisitions - base_.lock_acquisitions;
    const std::uint64_t calls = f.mallocs + f.frees;
    const std::uint64_t fast = s.fast_hits - base_.fast_hits;
    f.fast_hit_rate = calls == 0 ? 1.0 : static_cast<double>(fast) / static_cast<double>(calls);
    return f;
  }

 private:
  npp::Pool& pool_;
  const npp::Stats base_;
  std::int64_t mark_ = 0;
};
#endif

}  // namespace

std::unique_ptr<KernelPool> make_pool(LockSet& locks) {
#if SMPLOCK_POUND_HAVE_NPP
  // Every step from "pool" on has the lock-free pool: its table's NP role has no lock.
  if (lock_set(locks.kind())[static_cast<unsigned>(Role::NP)].granularity == Granularity::LockFree)
    return std::make_unique<NppPool>();
#endif
  return std::make_unique<LockedPool>(locks);
}

}  // namespace smplock::pound::detail
