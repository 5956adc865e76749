// The attach hook (detail::add_attach_hook, src/internal.hpp): other parts' set-up for a thread
// that has just become a CPU. Observed from the hooks themselves: each runs once per thread, on
// the thread's first use of the library and before that first call returns, in ordinary context,
// with the thread's own record; again for a new thread on a recycled index; and a full table
// refuses more hooks without disturbing those it has.
//
// A hook cannot be removed, so the test that fills the table runs in a child process of its own
// (a death-test style subprocess), leaving this process's table as the library's parts left it.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>
#include <vector>

#include "internal.hpp"
#include "needs_cpus.hpp"
#include "smplock/smplock.hpp"

namespace smplock {
namespace {

int gettid_now() { return static_cast<int>(syscall(SYS_gettid)); }

constinit Lock g_probe{Level::PS, "attach-hook probe"};

// Set by a thread the moment its first acquire has returned: a hook that finds it clear ran
// before that.
thread_local bool t_first_acquire_returned = false;

// What one call of the hook saw. Written in ordinary context (attach never runs in a signal
// handler), into a fixed log so the hook allocates nothing either way.
struct Seen {
  int tid = 0;                             // the calling thread
  const detail::CpuRecord* cpu = nullptr;  // the record it was given
  bool is_tls_record = false;              // ... is the one this thread's CPU pointer names
  int record_tid = 0;                      // the thread id in that record
  bool attached = false;                   // the record already published as attached
  std::uint8_t level = 0xFF;               // the level it was at
  bool holds_nothing = false;              // no lock in the record's held slots yet
  bool probe_free = false;                 // the probe lock not taken (by anyone) yet
  bool after_first_acquire = true;         // t_first_acquire_returned when the hook ran
  std::uint32_t in_signal = 0;             // handler activations running on the CPU
};

constexpr unsigned kLogSize = 64;
std::array<Seen, kLogSize> g_seen;
std::atomic<unsigned> g_seen_len{0};

void record_attach(detail::CpuRecord& cpu) {
  const unsigned i = g_seen_len.fetch_add(1);
  if (i >= kLogSize) return;
  Seen s;
  s.tid = gettid_now();
  s.cpu = &cpu;
  s.is_tls_record = detail::this_cpu_if_attached() == &cpu;
  s.record_tid = cpu.tid.load();
  s.attached = cpu.attached.load();
  s.level = cpu.level.load();
  s.holds_nothing = true;
  for (const detail::HeldEntry& e : cpu.held) s.holds_nothing &= e.key == 0;
  s.probe_free = g_probe.owner() == -1;
  s.after_first_acquire = t_first_acquire_returned;
  s.in_signal = cpu.irq.in_signal.load();
  g_seen[i] = s;
}

// Registered the way the library's parts register theirs: from a static initialiser, before any
// thread attaches.
const bool g_registered = detail::add_attach_hook(record_attach);

// The hook's calls for thread `tid`.
std::vector<Seen> seen_by(int tid) {
  std::vector<Seen> v;
  for (unsigned i = 0; i < std::min(g_seen_len.load(), kLogSize); ++i)
    if (g_seen[i].tid == tid) v.push_back(g_seen[i]);
  return v;
}

// A thread's first use of the library is an acquire; then it uses it some more.
struct Attached {
  int tid = 0;
  int index = -1;
};
Attached run_a_cpu() {
  Attached a;
  std::thread([&a] {
    a.tid = gettid_now();
    t_first_acquire_returned = false;
    const Level p = g_probe.acquire();
    t_first_acquire_returned = true;
    g_probe.release(p);
    for (int i = 0; i < 100; ++i) {
      Guard g(g_probe);
      check_level(Level::PS);
    }
    (void)set_softint(false);
    (void)set_softint(true);
    a.index = cpu_index();
  }).join();
  return a;
}

void expect_first_use(const Seen& s, const Attached& a) {
  EXPECT_EQ(s.cpu, detail::cpu_record(static_cast<unsigned>(a.index))) << "not the record of the index the thread got";
  EXPECT_TRUE(s.is_tls_record) << "not the calling thread's own record";
  EXPECT_EQ(s.record_tid, a.tid);
  EXPECT_TRUE(s.attached);
  EXPECT_EQ(s.level, to_int(Level::Null));
  EXPECT_TRUE(s.holds_nothing);
  EXPECT_TRUE(s.probe_free) << "the first acquire had taken its lock already";
  EXPECT_FALSE(s.after_first_acquire) << "the hook ran after the first acquire returned";
  EXPECT_EQ(s.in_signal, 0u) << "the hook ran in the interrupt signal's handler";
}

TEST(AttachHook, RunsOnceAsAThreadBecomesACpuBeforeItsFirstAcquireReturns) {
  ASSERT_TRUE(g_registered);
  const Attached a = run_a_cpu();
  const std::vector<Seen> seen = seen_by(a.tid);
  ASSERT_EQ(seen.size(), 1u) << "the hook must run exactly once for the thread";
  expect_first_use(seen[0], a);
}

TEST(AttachHook, RunsAgainForANewThreadOnARecycledIndex) {
  ASSERT_TRUE(g_registered);
  // The lowest free index goes to the next thread that attaches, and the first thread gives its
  // index back as it ends (before join returns): with no other CPU attaching meanwhile, the
  // second thread takes the same record.
  const Attached first = run_a_cpu();
  const Attached second = run_a_cpu();
  ASSERT_EQ(second.index, first.index) << "the index was not recycled; the test's premise failed";
  ASSERT_NE(second.tid, first.tid);
  const std::vector<Seen> a = seen_by(first.tid), b = seen_by(second.tid);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u) << "the hook must run again for the thread that reuses the index";
  expect_first_use(a[0], first);
  expect_first_use(b[0], second);
}

TEST(AttachHook, RunsForEachOfTwoThreadsAttachingAtOnce) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  // Two CPUs at once: each gets its own call with its own record, whatever the other does.
  std::atomic<int> ready{0};
  Attached a, b;
  auto body = [&ready](Attached& out) {
    out.tid = gettid_now();
    t_first_acquire_returned = false;
    const Level p = g_probe.acquire();
    t_first_acquire_returned = true;
    g_probe.release(p);
    out.index = cpu_index();
    ready.fetch_add(1);
    while (ready.load() < 2) std::this_thread::yield();  // both attached at once: distinct indexes
  };
  std::thread ta(body, std::ref(a)), tb(body, std::ref(b));
  ta.join();
  tb.join();
  ASSERT_NE(a.index, b.index);
  for (const Attached* t : {&a, &b}) {
    const std::vector<Seen> seen = seen_by(t->tid);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].cpu, detail::cpu_record(static_cast<unsigned>(t->index)));
    EXPECT_TRUE(seen[0].is_tls_record);
    EXPECT_EQ(seen[0].record_tid, t->tid);
    EXPECT_FALSE(seen[0].after_first_acquire);
  }
}

// --- the registration limit ---------------------------------------------------------------------

// One distinct hook per slot, each counting its calls and the last thread that made one.
std::array<std::atomic<int>, detail::kAttachHooks> g_filler_calls{};
std::array<std::atomic<int>, detail::kAttachHooks> g_filler_tid{};

template <std::size_t K>
void filler(detail::CpuRecord&) {
  g_filler_calls[K].fetch_add(1);
  g_filler_tid[K].store(gettid_now());
}

template <std::size_t... K>
constexpr std::array<detail::AttachHook, sizeof...(K)> make_fillers(std::index_sequence<K...>) {
  return {&filler<K>...};
}
constexpr auto kFillers = make_fillers(std::make_index_sequence<detail::kAttachHooks>());

// Runs in the child: fills the table, then checks a new CPU. Exits 0 when everything held, 1
// with the reasons on stderr otherwise.
[[noreturn]] void fill_the_table_and_attach() {
  int failures = 0;
  auto check = [&failures](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "FAILED: %s\n", what);
      ++failures;
    }
  };
  // Two slots are taken already: this test's hook and the pool's (src/npp/pool.cpp registers one
  // from a static initialiser; this program links the pool, which it uses below). The first
  // refusal ends the filling.
  unsigned added = 0;
  while (added < detail::kAttachHooks && detail::add_attach_hook(kFillers[added])) ++added;
  std::fprintf(stderr, "filled %u free slots of %u\n", added, detail::kAttachHooks);
  check(added >= 1, "no free slot at all: the library's own hooks filled the table");
  check(added <= detail::kAttachHooks - 2, "more hooks accepted than the table has free slots");
  check(!detail::add_attach_hook(record_attach), "a full table accepted another hook");
  check(!detail::add_attach_hook(kFillers[0]), "a full table accepted a hook it already has");

  const Attached a = run_a_cpu();
  check(seen_by(a.tid).size() == 1, "the hook registered before the table filled did not run once");
  for (unsigned k = 0; k < added; ++k) {
    check(g_filler_calls[k].load() == 1, "a hook from the filling did not run exactly once");
    check(g_filler_tid[k].load() == a.tid, "a hook from the filling ran on another thread");
  }
  for (unsigned k = added; k < detail::kAttachHooks; ++k)
    check(g_filler_calls[k].load() == 0, "a refused hook ran");
  // The pool's set-up (its hook arms the thread-exit hand-back) still works for a CPU attached
  // after the filling: it allocates, frees and ends.
  bool pool_served = false;
  std::thread([&pool_served] {
    void* p = npp::malloc(100);
    pool_served = p != nullptr;
    npp::free(p);
  }).join();
  check(pool_served, "the pool did not serve a CPU attached after the filling");
  std::fflush(stderr);
  std::_Exit(failures == 0 ? 0 : 1);
}

TEST(AttachHookDeathTest, AFullTableRefusesMoreHooksAndKeepsTheOnesItHas) {
  ASSERT_TRUE(g_registered);
  // Threadsafe: the child starts afresh (re-executed), so its table holds only what static
  // initialisers put there, and the threads it starts are fine under the sanitizers.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(fill_the_table_and_attach(), ::testing::ExitedWithCode(0), "filled [0-9]+ free slots");
}

}  // namespace
}  // namespace smplock
