// tests/stress/peer_locks_test.cpp: every benchmark adapter (ours and each peer) run under real
// threads through the same workloads the benchmarks time (bench/harness/workload.hpp), with exact
// counts: a lock that loses an update, or a hand-off that does not alternate, fails here before
// its speed means anything. Each run lasts its time and then until every thread has done a fixed
// number of operations (kFloor; the hand-off, kFloor rounds), so every verdict is about counts that
// must happen, whatever share of the machine the threads got: on a loaded machine a 100 ms run can
// end before a pinned thread ever ran (FIFO locks with more threads than cores are slow, never
// stuck, so the floor is kept small).
#include <gtest/gtest.h>

#include <chrono>
#include <type_traits>

#include "harness/adapters.hpp"
#include "harness/workload.hpp"

namespace smplock::bench {
namespace {

using namespace std::chrono_literals;

// Operations each thread must do (rounds, for the hand-off), however long that takes.
constexpr std::uint64_t kFloor = 32;

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#else
constexpr bool kTsan = false;
#endif

template <class List>
struct ToTypes;
template <class... Ls>
struct ToTypes<LockList<Ls...>> {
  using type = ::testing::Types<Ls...>;
};

template <class L>
class PeerLocks : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kTsan && !kTsanVisible<L>) GTEST_SKIP() << L::kName << " synchronises where ThreadSanitizer cannot see";
#ifdef SMPLOCK_UNIPROCESSOR
    // One CPU only: a second thread attaching is itself a crash, so ours runs in the core's
    // uniprocessor tests, not in these multi-thread ones. The peers still run.
    if (std::is_base_of_v<OursLock, L>) GTEST_SKIP() << "uniprocessor build: ours takes one thread";
#endif
    begin_run<L>();
  }
  void TearDown() override { end_run<L>(); }
};

struct LockNames {
  template <class L>
  static std::string GetName(int) {
    return L::kName;
  }
};

TYPED_TEST_SUITE(PeerLocks, ToTypes<AllLocks>::type, LockNames);

// Four threads on one lock (more threads than this machine's cores): no increment is lost.
TYPED_TEST(PeerLocks, FourThreadsCountExactly) {
  const RunResult r = run_contended<TypeParam>(4, 1, Section::Short, 150ms, kFloor);
  EXPECT_GE(r.min_ops, kFloor);
  EXPECT_EQ(r.counter, r.total_ops);
  EXPECT_EQ(r.inner, r.total_ops);
}

// Three threads through a chain of four nested locks: every lock's own counter and the innermost
// counter agree with the operations counted.
TYPED_TEST(PeerLocks, NestedChainCountsExactly) {
  const RunResult r = run_contended<TypeParam>(3, 4, Section::Short, 100ms, kFloor);
  EXPECT_GE(r.min_ops, kFloor);
  EXPECT_EQ(r.counter, r.total_ops);
  EXPECT_EQ(r.inner, 4 * r.total_ops);
}

// Long critical sections with two threads: the counter still matches.
TYPED_TEST(PeerLocks, LongSectionsCountExactly) {
  const RunResult r = run_contended<TypeParam>(2, 1, Section::Long, 60ms, kFloor);
  EXPECT_GE(r.min_ops, kFloor);
  EXPECT_TRUE(r.exact()) << "counter " << r.counter << " inner " << r.inner << " ops " << r.total_ops;
}

// The hand-off workload passes the lock strictly back and forth: each thread's acquisitions differ
// by at most one, and each one was counted under the lock.
TYPED_TEST(PeerLocks, HandoffAlternates) {
  const RunResult r = run_pingpong<TypeParam>(100ms, 500, kFloor);
  EXPECT_GE(r.total_ops, kFloor);
  EXPECT_EQ(r.counter, r.total_ops);
  EXPECT_LE(r.max_ops - r.min_ops, 1u);
  EXPECT_EQ(r.latency.samples, r.total_ops);
}

// The checker itself: a result whose counter disagrees with the operations is not exact.
TEST(PeerLocksHarness, ExactNoticesLostUpdates) {
  RunResult r;
  r.total_ops = 10;
  r.counter = 9;
  r.inner = 10;
  EXPECT_FALSE(r.exact());
  r.counter = 10;
  EXPECT_TRUE(r.exact());
  r.chain = 4;
  EXPECT_FALSE(r.exact());
  r.inner = 40;
  EXPECT_TRUE(r.exact());
}

TEST(PeerLocksHarness, PercentilesOfKnownSamples) {
  std::vector<std::uint32_t> v;
  for (std::uint32_t i = 1; i <= 101; ++i) v.push_back(102 - i);
  const Percentiles p = percentiles(v);
  EXPECT_EQ(p.samples, 101u);
  EXPECT_EQ(p.p50, 51);
  EXPECT_EQ(p.p90, 91);
  EXPECT_EQ(p.p99, 100);
  EXPECT_EQ(p.max, 101);
}

}  // namespace
}  // namespace smplock::bench
