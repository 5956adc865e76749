// tests/lock_access.hpp: the tests' one window into a Lock's private state (its word, its waiter
// and sleeper counts), for the tests that check the wait protocol from outside. Lock names
// smplock::LockAccess a friend; every test program that needs the window includes this header.
#pragma once

#include <atomic>
#include <cstdint>

#include "smplock/smplock.hpp"

namespace smplock {

struct LockAccess {
  static std::uint32_t word(const Lock& l) { return l.word_.load(std::memory_order_relaxed); }
  // The word itself, for a test that waits until a thread sleeps on it (test::asleep_on).
  static std::atomic<std::uint32_t>& word_ref(Lock& l) { return l.word_; }
  static unsigned waiters(const Lock& l) { return l.waiters_.load(std::memory_order_relaxed); }
  // Counted sleepers, with the hungry mark (Lock::kHungry) when a waiter holds it.
  static unsigned sleepers(const Lock& l) { return l.sleepers_.load(std::memory_order_relaxed); }
};

}  // namespace smplock
