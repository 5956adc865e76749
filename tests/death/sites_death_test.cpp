// The crash report names the user's line (issue 15 part 1), for each way of taking a lock: the
// held lock's "acquired at" and the violating acquire's "at" are this file's lines, not a line of
// smplock's headers or the standard library's (<mutex>'s std_mutex.h, unique_lock.h).
#include <gtest/gtest.h>

#include <mutex>
#include <source_location>
#include <string>

#include "my_guard.hpp"
#include "smplock/smplock.hpp"

namespace smplock {
namespace {

using testing_support::MyGuard;  // a wrapper of the program's own (my_guard.hpp)

// Each way takes `high`, then `low` below it (an R1 crash), both in the same way, on the next line.
// With `ask` it returns instead the line it takes `high` on (the return shares the line).
int via_acquire(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; (void)high.acquire();
  (void)low.acquire();
  return 0;
}
int via_guard(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; Guard a(high);
  Guard b(low);
  return 0;
}
int via_lock_guard(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; std::lock_guard a(high);
  std::lock_guard b(low);
  return 0;
}
int via_unique_lock(Lock& high, Lock& low, int ask) {
  std::unique_lock<Lock> b(low, std::defer_lock);
  if (ask != 0) return __LINE__; std::unique_lock<Lock> a(high);
  b.lock();
  return 0;
}
int via_scoped_lock(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; std::scoped_lock a(high);
  std::scoped_lock b(low);
  return 0;
}
int via_ordered_guard(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; OrderedGuard a(high);
  OrderedGuard b(low);
  return 0;
}
int via_class_guard(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; ClassGuard a(high);
  ClassGuard b(low);
  return 0;
}
int via_acquire_in_class(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; (void)high.acquire_in_class();
  (void)low.acquire_in_class();
  return 0;
}
int via_user_wrapper(Lock& high, Lock& low, int ask) {
  if (ask != 0) return __LINE__; MyGuard a(high);
  MyGuard b(low);
  return 0;
}

using Way = int (*)(Lock&, Lock&, int);

class Sites : public ::testing::TestWithParam<Way> {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_P(Sites, CrashReportNamesTheUsersLines) {
  const Way way = GetParam();
  Lock high(Level::NP, "sites-high");
  Lock low(Level::PS, "sites-low");
  const int line = way(high, low, 1);
  const std::string held = std::to_string(line);
  const std::string bad = std::to_string(line + 1);
  // "  at       <file>:<bad> in <function>" for the violating acquire, then the held lock's
  // "acquired at <file>:<held> in <function>".
  EXPECT_DEATH(way(high, low, 0),
               "R1 acquire upward only[^\n]*\n  at +[^\n]*sites_death_test\\.cpp:" + bad +
                   " in [^\n]*via_(.|\n)*\"sites-high\"[^\n]*\n +acquired at [^\n]*sites_death_test\\.cpp:" + held +
                   " in [^\n]*via_");
}

INSTANTIATE_TEST_SUITE_P(EachWay, Sites,
                         ::testing::Values(via_acquire, via_guard, via_lock_guard, via_unique_lock, via_scoped_lock,
                                           via_ordered_guard, via_class_guard, via_acquire_in_class,
                                           via_user_wrapper));

// A guard released from its destructor (no call site of its own) while not the top lock: the
// report names the line the guard was made on.
template <class G>
int release_out_of_order(Lock& low, Lock& high, int ask) {
  if (ask != 0) return __LINE__; auto* g = new G(low);
  (void)high.acquire();
  delete g;  // R4: `low` is not the top lock
  return 0;
}

class SitesOfReleases : public ::testing::TestWithParam<Way> {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_P(SitesOfReleases, CrashReportNamesTheGuardsLine) {
  const Way way = GetParam();
  Lock low(Level::PS, "sites-low");
  Lock high(Level::NP, "sites-high");
  const std::string line = std::to_string(way(low, high, 1));
  EXPECT_DEATH(way(low, high, 0), "R4 release the top lock[^\n]*\n  at +[^\n]*sites_death_test\\.cpp:" + line + " in ");
}

INSTANTIATE_TEST_SUITE_P(EachGuard, SitesOfReleases,
                         ::testing::Values(release_out_of_order<Guard>, release_out_of_order<std::lock_guard<Lock>>,
                                           release_out_of_order<std::scoped_lock<Lock>>,
                                           release_out_of_order<std::unique_lock<Lock>>,
                                           release_out_of_order<OrderedGuard<1>>,
                                           release_out_of_order<ClassGuard<1>>));

}  // namespace
}  // namespace smplock

// A site without a source location (a lock's destructor, a C free() through the drop-in allocator,
// a deferred free): the report names the nearest frames outside smplock as module+offset, with the
// dynamic symbol (this test is linked with its symbols exported, and this function has external
// linkage, so dladdr() names it).
namespace sites_user {
__attribute__((noinline)) void destroy_a_held_lock() {
  auto* lock = new smplock::Lock(smplock::Level::PS, "sites-destroyed");
  (void)lock->acquire();
  delete lock;  // R7
}
}  // namespace sites_user

// What free() and malloc() of the drop-in allocator (libsmplock-malloc.so) call (src/npp/pool.hpp).
namespace smplock::npp::detail {
void* c_malloc(std::size_t size);
void c_free(void* p);
}  // namespace smplock::npp::detail

namespace sites_user {
__attribute__((noinline)) void free_twice() {
  void* p = smplock::npp::detail::c_malloc(64);
  smplock::npp::detail::c_free(p);
  smplock::npp::detail::c_free(p);  // a double free through C free(): no source location
  asm volatile("" ::: "memory");    // not a tail call: this frame stays on the stack
}
}  // namespace sites_user

TEST(SitesWithoutLocation, PoolDoubleFreeThroughCFreeNamesTheCallersFrame) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(sites_user::free_twice(),
               "npp: double free[^\n]*\n  at +\\(no source location\\)\n"
               "  called from (.|\n)*\\(_ZN10sites_user10free_twiceEv\\+0x");
}

TEST(SitesWithoutLocation, CrashReportNamesTheCallersFrame) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(sites_user::destroy_a_held_lock(),
               "R7 no lock outlives its CPU[^\n]*\n  at +\\(no source location\\)\n"
               "  called from [^\n]*\\+0x[0-9a-f]+ \\(_ZN10sites_user19destroy_a_held_lockEv\\+0x");
}
