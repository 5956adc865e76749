// smplock/detail/std_locks.hpp: std::lock_guard, std::unique_lock and std::scoped_lock (of one
// lock) specialised for smplock::Lock, so that the call site every report names is the user's line.
//
// Why: a report's site is the std::source_location the acquire was given (crash report: "acquired
// at"; statistics: the contended call sites). The standard wrappers call m.lock() with no
// argument, so Lock::lock()'s default argument would name the line inside <mutex> (std_mutex.h,
// unique_lock.h, mutex). These specialisations take the site as a defaulted constructor argument,
// which is evaluated where the user writes `std::lock_guard g(lock);`, and pass it on. Their
// interface is the standard one (the standard allows specialising its templates for a
// program-defined type); only the defaulted `where` is added. A release from a destructor, which has
// no call site of its own, names the line the lock was taken on. Included by smplock/lock.hpp.
#pragma once

#include <mutex>
#include <source_location>
#include <utility>

namespace std {

template <>
class lock_guard<smplock::Lock> {
 public:
  using mutex_type = smplock::Lock;
  [[gnu::always_inline]] explicit lock_guard(mutex_type& m,
                                             std::source_location where = std::source_location::current())
      : m_(m), where_(where) {
    m_.lock(where);
  }
  lock_guard(mutex_type& m, adopt_lock_t) noexcept : m_(m) {}
  ~lock_guard() { m_.unlock(where_); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  mutex_type& m_;
  std::source_location where_{};
};

template <>
class scoped_lock<smplock::Lock> {
 public:
  using mutex_type = smplock::Lock;
  [[gnu::always_inline]] explicit scoped_lock(mutex_type& m,
                                              std::source_location where = std::source_location::current())
      : m_(m), where_(where) {
    m_.lock(where);
  }
  explicit scoped_lock(adopt_lock_t, mutex_type& m) noexcept : m_(m) {}
  ~scoped_lock() { m_.unlock(where_); }
  scoped_lock(const scoped_lock&) = delete;
  scoped_lock& operator=(const scoped_lock&) = delete;

 private:
  mutex_type& m_;
  std::source_location where_{};
};

template <>
class unique_lock<smplock::Lock> {
 public:
  using mutex_type = smplock::Lock;

  unique_lock() noexcept = default;
  [[gnu::always_inline]] explicit unique_lock(mutex_type& m,
                                              std::source_location where = std::source_location::current())
      : m_(&m), where_(where) {
    m_->lock(where);
    owns_ = true;
  }
  unique_lock(mutex_type& m, defer_lock_t) noexcept : m_(&m) {}
  unique_lock(mutex_type& m, try_to_lock_t, std::source_location where = std::source_location::current())
      : m_(&m), owns_(m.try_lock(where)), where_(where) {}
  unique_lock(mutex_type& m, adopt_lock_t) noexcept : m_(&m), owns_(true) {}
  ~unique_lock() {
    if (owns_) m_->unlock(where_);
  }
  unique_lock(const unique_lock&) = delete;
  unique_lock& operator=(const unique_lock&) = delete;
  unique_lock(unique_lock&& u) noexcept
      : m_(std::exchange(u.m_, nullptr)), owns_(std::exchange(u.owns_, false)), where_(u.where_) {}
  unique_lock& operator=(unique_lock&& u) noexcept {
    if (owns_) m_->unlock(where_);
    m_ = std::exchange(u.m_, nullptr);
    owns_ = std::exchange(u.owns_, false);
    where_ = u.where_;
    return *this;
  }

  // Like the standard's: locking with no mutex, or one already owned, throws system_error.
  [[gnu::always_inline]] void lock(std::source_location where = std::source_location::current()) {
    check_lockable();
    m_->lock(where);
    owns_ = true;
    where_ = where;
  }
  bool try_lock(std::source_location where = std::source_location::current()) {
    check_lockable();
    owns_ = m_->try_lock(where);
    where_ = where;
    return owns_;
  }
  void unlock(std::source_location where = std::source_location::current()) {
    if (!owns_) throw system_error(make_error_code(errc::operation_not_permitted));
    m_->unlock(where);
    owns_ = false;
  }
  void swap(unique_lock& u) noexcept {
    std::swap(m_, u.m_);
    std::swap(owns_, u.owns_);
    std::swap(where_, u.where_);
  }
  mutex_type* release() noexcept {
    owns_ = false;
    return std::exchange(m_, nullptr);
  }
  bool owns_lock() const noexcept { return owns_; }
  explicit operator bool() const noexcept { return owns_; }
  mutex_type* mutex() const noexcept { return m_; }

 private:
  void check_lockable() const {
    if (m_ == nullptr) throw system_error(make_error_code(errc::operation_not_permitted));
    if (owns_) throw system_error(make_error_code(errc::resource_deadlock_would_occur));
  }

  mutex_type* m_ = nullptr;
  bool owns_ = false;
  std::source_location where_{};  // where it was last locked: the destructor's release names it
};

}  // namespace std
