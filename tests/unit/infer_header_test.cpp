// The header `smplock levels --infer --header` writes, compiled: the build generates it from the
// hand-written bank.json trace (tests/parts/infer.cmake) and this file includes it, so a header
// that does not compile fails the build, and the values must follow the observed order.
#include <gtest/gtest.h>

#include "infer_bank_levels.hpp"
#include "smplock/smplock.hpp"

namespace {

// registry_lock is held when make_account+16 and stats_lock are taken; stats_lock when index is.
static_assert(levels::RegistryLock < levels::MakeAccount16);
static_assert(levels::RegistryLock < levels::StatsLock);
static_assert(levels::StatsLock < levels::Index);
static_assert(smplock::to_int(levels::RegistryLock) == 0x10);
static_assert(smplock::to_int(levels::Index) == 0x20);

TEST(InferHeader, TheConstantsMakeLocksThatNestInTheirOrder) {
  smplock::Lock registry{levels::RegistryLock, "registry"};
  smplock::Lock stats{levels::StatsLock, "stats"};
  smplock::Lock index{levels::Index, "index"};
  registry.lock();
  stats.lock();
  index.lock();
  index.unlock();
  stats.unlock();
  registry.unlock();
  SUCCEED();
}

}  // namespace
