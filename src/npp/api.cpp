// The pool's public face: Pool, npp::malloc/free and friends, quota charging, debug switch.
#include <new>

#include "internal.hpp"
#include "npp/pool.hpp"

namespace smplock::npp {

using detail::PoolState;

namespace {

// R8 first: a refused charge is an early return, and the charge must not happen at all when the
// call is wrong at this level.
void* charged_malloc(PoolState& ps, std::size_t size, Quota& quota, std::source_location where) {
  detail::check_r8(ps, true, where);
  const std::size_t charge = good_size(size);
  if (!quota.charge(charge)) return nullptr;
  void* p = detail::pool_malloc(ps, size, kAlignment, &quota, false, where);
  if (p == nullptr) quota.credit(charge);  // out of memory: undo the charge, nothing half done
  return p;
}

void charged_free(PoolState& ps, void* p, Quota& quota, std::source_location where) {
  if (p == nullptr) return detail::check_r8(ps, false, where);
  const std::size_t credit = good_size(detail::pool_usable_size(ps, p));
  detail::pool_free(ps, p, &quota, where);
  quota.credit(credit);
}

}  // namespace

std::size_t good_size(std::size_t size) noexcept {
  if (size <= kSmallMax) return detail::kClasses.size[detail::class_of(size)];
  if (size <= (std::size_t{detail::kLargeMaxPages} << detail::kPageShift))
    return (size + detail::kPageSize - 1) & ~(detail::kPageSize - 1);
  return (size + 4095) & ~std::size_t{4095};
}

Pool::Pool(Level level, const char* name, std::size_t reserve_bytes) : state_(nullptr) {
  if (level <= Level::Softint)
    // No source location (the constructor takes none): the report names the caller's frames
    // rather than this file's line (docs/design.md, "Call sites").
    smplock::detail::violation(Rule::Fatal, "npp::Pool made at a level no caller can be below", nullptr,
                               smplock::detail::this_cpu_if_attached(), {}, "level", to_int(level));
  state_ = new PoolState(level, name, reserve_bytes);
  for (auto& slot : detail::g_pools) {
    PoolState* expected = nullptr;
    if (slot.compare_exchange_strong(expected, state_, std::memory_order_acq_rel)) return;
  }
  smplock::detail::violation(Rule::Fatal, "npp: more than 64 pools alive at once", nullptr,
                             smplock::detail::this_cpu_if_attached(), {});
}

Pool::~Pool() {
  if (state_ == nullptr || state_ == &detail::default_state()) return;
  detail::pool_destroy(*state_);
  delete state_;
}

void* Pool::malloc(std::size_t size, std::source_location where) {
  return detail::pool_malloc(*state_, size, kAlignment, nullptr, true, where);
}
void* Pool::malloc(std::size_t size, Quota& quota, std::source_location where) {
  return charged_malloc(*state_, size, quota, where);
}
void* Pool::aligned_malloc(std::size_t size, std::size_t alignment, std::source_location where) {
  return detail::pool_malloc(*state_, size, alignment, nullptr, false, where);
}
void* Pool::try_malloc(std::size_t size, std::source_location where) {
  return detail::pool_malloc(*state_, size, kAlignment, nullptr, false, where);
}
void Pool::free(void* p, std::source_location where) { detail::pool_free(*state_, p, nullptr, where); }
void Pool::free(void* p, Quota& quota, std::source_location where) { charged_free(*state_, p, quota, where); }
std::size_t Pool::usable_size(const void* p) const { return detail::pool_usable_size(*state_, p); }
bool Pool::owns(const void* p) const noexcept { return detail::in_region(*state_, p); }
Level Pool::level() const noexcept { return state_->level; }
const char* Pool::name() const noexcept { return state_->lock.name(); }
Stats Pool::stats() const { return detail::pool_stats(*state_); }
Pool& Pool::default_pool() noexcept {
  // Built in place and never destroyed: the default pool outlives every static destructor.
  alignas(Pool) static unsigned char storage[sizeof(Pool)];
  static Pool* const pool = new (storage) Pool(&detail::default_state());
  return *pool;
}

void* malloc(std::size_t size, Quota& quota, std::source_location where) {
  return charged_malloc(detail::default_state(), size, quota, where);
}
void* aligned_malloc(std::size_t size, std::size_t alignment, std::source_location where) {
  return detail::pool_malloc(detail::default_state(), size, alignment, nullptr, false, where);
}
void free(void* p, Quota& quota, std::source_location where) {
  if (p == nullptr) return detail::check_r8(detail::default_state(), false, where);
  PoolState* ps = detail::pool_of(p);
  charged_free(ps != nullptr ? *ps : detail::default_state(), p, quota, where);
}
std::size_t usable_size(const void* p) { return detail::pool_usable_size(detail::default_state(), p); }
Stats stats() { return detail::pool_stats(detail::default_state()); }
bool set_debug(bool on) noexcept { return detail::set_debug_flag(on); }
bool debug() noexcept { return detail::debug_flag(); }

}  // namespace smplock::npp
