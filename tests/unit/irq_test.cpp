// Interrupts (DESIGN §4), observed from outside: IRQ delivery held back by the level and released
// highest first, nesting, lock-out, merging, counters, cross-CPU delivery through the signal (to a
// CPU at Null, at HI, blocked in a system call), softints and lowipl.
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "smplock/smplock.hpp"

namespace smplock {
namespace {

using namespace std::chrono_literals;

// --- what handlers saw: a fixed log, written with atomics only (handlers may run in a signal
// handler, so they allocate nothing) ---

struct Event {
  int what = 0;          // +line+1 on handler entry, -(line+1) on exit; 100 + k for routines
  int cpu = -1;
  std::uint8_t level = 0;     // the CPU's level inside
  std::uint8_t previous = 0;  // the level the line's lock was taken from (the interrupted level)
  int tid = 0;
};

constexpr unsigned kLogSize = 256;
Event g_log[kLogSize];
std::atomic<unsigned> g_log_len{0};

void log_event(int what, std::uint8_t previous = 0) {
  const unsigned i = g_log_len.fetch_add(1);
  if (i >= kLogSize) return;
  g_log[i] = Event{what, cpu_index(), to_int(current_level()), previous, static_cast<int>(syscall(SYS_gettid))};
}

std::vector<int> log_whats() {
  std::vector<int> v;
  for (unsigned i = 0; i < std::min(g_log_len.load(), kLogSize); ++i) v.push_back(g_log[i].what);
  return v;
}

// The level a line's lock was acquired from on this CPU: the level the handler interrupted.
std::uint8_t interrupted_level(unsigned line) {
  return to_int(detail::this_cpu().held[to_int(irq_level(line))].previous());
}

// A plain handler: logs entry (with the interrupted level) and exit. arg = the line number.
void logging_handler(void* arg) {
  const auto line = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(arg));
  log_event(static_cast<int>(line) + 1, interrupted_level(line));
  log_event(-static_cast<int>(line) - 1);
}

void* line_arg(unsigned line) { return reinterpret_cast<void*>(static_cast<std::uintptr_t>(line)); }

// Attaches logging_handler to the lines for the test's life.
class Attached {
 public:
  explicit Attached(std::initializer_list<unsigned> lines) : lines_(lines) {
    for (unsigned n : lines_) irq::attach(n, logging_handler, line_arg(n));
  }
  ~Attached() {
    for (unsigned n : lines_) irq::detach(n, logging_handler, line_arg(n));
  }

 private:
  std::vector<unsigned> lines_;
};

class Irq : public ::testing::Test {
 protected:
  void SetUp() override {
    g_log_len.store(0);
    irq::reset_line_stats();
    ASSERT_EQ(current_level(), Level::Null);
  }
};

// Waits (bounded) for a condition another thread makes true.
template <class F>
bool eventually(F f) {
  for (int i = 0; i < 20000; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(250us);
  }
  return f();
}

// A second CPU: a thread that attaches, publishes its index, then runs `body`.
class OtherCpu {
 public:
  template <class Body>
  explicit OtherCpu(Body body) {
    thread_ = std::thread([this, body] {
      tid_.store(static_cast<int>(syscall(SYS_gettid)));
      index_.store(cpu_index());  // last: the constructor waits for it
      body();
    });
    while (index_.load() < 0) std::this_thread::yield();
  }
  ~OtherCpu() { thread_.join(); }
  int index() const { return index_.load(); }
  int tid() const { return tid_.load(); }

 private:
  std::atomic<int> index_{-1};
  std::atomic<int> tid_{0};
  std::thread thread_;
};

// --- the line's lock and level ---

TEST_F(Irq, AttachReturnsTheLinesLockAtItsLevel) {
  for (unsigned n = 0; n < kIrqCount; ++n) {
    Lock& l = irq::attach(n, logging_handler, line_arg(n));
    EXPECT_EQ(&l, &irq::line(n));
    EXPECT_EQ(l.level(), irq_level(n));
    EXPECT_EQ(std::string(l.name()), "IRQ " + std::to_string(n));
    irq::detach(n, logging_handler, line_arg(n));
  }
}

// --- delivery on the calling CPU ---

TEST_F(Irq, RaisedBelowTheLevelRunsBeforeRaiseReturns) {
  Attached a{3};
  irq::raise(3, cpu_index());
  ASSERT_EQ(log_whats(), (std::vector<int>{4, -4}));
  EXPECT_EQ(g_log[0].level, to_int(irq_level(3)));  // at the line's level...
  EXPECT_EQ(g_log[0].previous, to_int(Level::Null));  // ...taken from where the CPU was
  EXPECT_EQ(g_log[0].cpu, cpu_index());
  EXPECT_EQ(current_level(), Level::Null);
  EXPECT_EQ(irq::line(3).owner(), -1);
}

TEST_F(Irq, RaisedBelowTheLevelWithALockHeldRunsToo) {
  Attached a{3};
  Lock dv(Level::DV, "irqtest DV");
  const Level prev = dv.acquire();
  irq::raise(3, cpu_index());
  EXPECT_EQ(log_whats(), (std::vector<int>{4, -4}));
  EXPECT_EQ(g_log[0].previous, to_int(Level::DV));
  dv.release(prev);
}

TEST_F(Irq, HeldBackAboveTheLevelAndDeliveredByTheRelease) {
  Attached a{3};
  Lock kt(Level::KT, "irqtest KT");
  const Level prev = kt.acquire();
  irq::raise(3, cpu_index());
  EXPECT_TRUE(log_whats().empty());
  EXPECT_NE(detail::this_cpu().pending.load() & (1u << (to_int(irq_level(3)) - kIrqLevelLow)), 0u);
  kt.release(prev);
  EXPECT_EQ(log_whats(), (std::vector<int>{4, -4}));
  EXPECT_EQ(detail::this_cpu().pending.load(), 0u);
}

TEST_F(Irq, HoldingTheLinesOwnLockLocksItOut) {
  Attached a{5};
  Lock& l = irq::line(5);
  const Level prev = l.acquire();  // at exactly the line's level: equal is held back
  irq::raise(5, cpu_index());
  EXPECT_TRUE(log_whats().empty());
  l.release(prev);
  EXPECT_EQ(log_whats(), (std::vector<int>{6, -6}));
}

TEST_F(Irq, DeferredLinesAreDeliveredHighestFirst) {
  Attached a{0, 3, 7, 8, 12, 15};
  Lock hi(Level::HI, "irqtest HI");
  const Level prev = hi.acquire();
  for (unsigned n : {7u, 3u, 12u, 0u, 15u, 8u}) irq::raise(n, cpu_index());
  EXPECT_TRUE(log_whats().empty());
  hi.release(prev);
  // Levels: 0=EF, 8=EC, 12=E8, 15=E5, 3=E4, 7=E0.
  EXPECT_EQ(log_whats(), (std::vector<int>{1, -1, 9, -9, 13, -13, 16, -16, 4, -4, 8, -8}));
  for (unsigned i = 0; i < g_log_len.load(); i += 2) EXPECT_EQ(g_log[i].previous, to_int(Level::Null));
}

TEST_F(Irq, AReleaseDeliversOnlyWhatTheNewLevelAllows) {
  Attached a{0, 7};
  Lock& seven = irq::line(7);  // 0xE0
  Lock kt(Level::KT, "irqtest KT");
  const Level p7 = seven.acquire();
  const Level pkt = kt.acquire();
  irq::raise(7, cpu_index());
  irq::raise(0, cpu_index());
  kt.release(pkt);  // down to 0xE0: IRQ 0 (0xEF) goes, IRQ 7 (0xE0) waits
  EXPECT_EQ(log_whats(), (std::vector<int>{1, -1}));
  EXPECT_EQ(g_log[0].previous, to_int(irq_level(7)));
  seven.release(p7);
  EXPECT_EQ(log_whats(), (std::vector<int>{1, -1, 8, -8}));
}

TEST_F(Irq, AFailedTryLeavesTheLevelAndTheNextReleaseDelivers) {
  // A busy try_acquire leaves the level where it was. A line pending and allowed at that level (a
  // raise whose signal has not come yet: set by hand here) goes at the next release at the latest.
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  Attached a{2};
  Lock kt(Level::KT, "irqtest KT");
  Lock dv(Level::DV, "irqtest DV");
  std::atomic<bool> held{false}, done{false};
  std::thread other([&] {
    const Level p = kt.acquire();
    held.store(true);
    while (!done.load()) std::this_thread::yield();
    kt.release(p);
  });
  while (!held.load()) std::this_thread::yield();
  detail::this_cpu().pending.fetch_or(1u << (to_int(irq_level(2)) - kIrqLevelLow));
  Level prev;
  EXPECT_FALSE(kt.try_acquire(prev));
  EXPECT_EQ(current_level(), Level::Null);
  const Level p = dv.acquire();
  dv.release(p);
  EXPECT_EQ(log_whats(), (std::vector<int>{3, -3}));
  done.store(true);
  other.join();
}

// --- nesting ---

void raise_zero_inside(void*) {
  log_event(8, interrupted_level(7));
  irq::raise(0, cpu_index());  // higher: nests here, before raise returns
  log_event(-8);
}
void raise_seven_inside(void*) {
  log_event(1, interrupted_level(0));
  irq::raise(7, cpu_index());  // lower: waits for this handler to return
  log_event(-1);
}
void raise_self_inside(void* arg) {
  auto* count = static_cast<std::atomic<int>*>(arg);
  log_event(4, interrupted_level(3));
  if (count->fetch_add(1) == 0) irq::raise(3, cpu_index());  // equal: after this one returns
  log_event(-4);
}

TEST_F(Irq, AHigherLineNestsInsideALowerHandler) {
  irq::attach(7, raise_zero_inside, nullptr);
  Attached a{0};
  irq::raise(7, cpu_index());
  EXPECT_EQ(log_whats(), (std::vector<int>{8, 1, -1, -8}));
  EXPECT_EQ(g_log[1].previous, to_int(irq_level(7)));  // IRQ 0 interrupted IRQ 7's level
  EXPECT_EQ(g_log[1].level, to_int(irq_level(0)));
  irq::detach(7, raise_zero_inside, nullptr);
}

TEST_F(Irq, ALowerLineNeverNestsInsideAHigherHandler) {
  irq::attach(0, raise_seven_inside, nullptr);
  Attached a{7};
  irq::raise(0, cpu_index());
  EXPECT_EQ(log_whats(), (std::vector<int>{1, -1, 8, -8}));
  EXPECT_EQ(g_log[2].previous, to_int(Level::Null));
  irq::detach(0, raise_seven_inside, nullptr);
}

TEST_F(Irq, AnEqualLineRaisedInItsOwnHandlerIsANewDeliveryAfterIt) {
  std::atomic<int> count{0};
  irq::attach(3, raise_self_inside, &count);
  irq::raise(3, cpu_index());
  EXPECT_EQ(log_whats(), (std::vector<int>{4, -4, 4, -4}));
  EXPECT_EQ(count.load(), 2);
  irq::detach(3, raise_self_inside, &count);
}

// --- handlers, merging, counters ---

void count_handler(void* arg) { static_cast<std::atomic<int>*>(arg)->fetch_add(1); }

TEST_F(Irq, EveryAttachedHandlerRunsAndDetachRemovesOne) {
  std::atomic<int> a{0}, b{0};
  irq::attach(9, count_handler, &a);
  irq::attach(9, count_handler, &b);
  irq::raise(9, cpu_index());
  EXPECT_EQ(a.load(), 1);
  EXPECT_EQ(b.load(), 1);
  irq::detach(9, count_handler, &a);
  irq::raise(9, cpu_index());
  EXPECT_EQ(a.load(), 1);
  EXPECT_EQ(b.load(), 2);
  irq::detach(9, count_handler, &b);
  irq::raise(9, cpu_index());  // no handler: delivered to nobody, no harm
  EXPECT_EQ(b.load(), 2);
}

TEST_F(Irq, RaisesOfAPendingLineMergeAndAreCounted) {
  std::atomic<int> calls{0};
  irq::attach(4, count_handler, &calls);
  Lock kt(Level::KT, "irqtest blocker");
  const Level prev = kt.acquire();
  // The class outlives the lock (and this test, under --gtest_repeat): count from here.
  const detail::ClassRecord& c = detail::g_classes[kt.class_id()];
  const std::uint64_t deferred_before = c.irq_deferred.load(), delay_before = c.irq_delay_ns.load();
  for (int i = 0; i < 5; ++i) irq::raise(4, cpu_index());
  kt.release(prev);
  EXPECT_EQ(calls.load(), 1);
  const irq::LineStats s = irq::line_stats(4);
  EXPECT_EQ(s.raised, 5u);
  EXPECT_EQ(s.merged, 4u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.deferred, 1u);
  EXPECT_GE(s.max_delay_ns, 1u);
  EXPECT_EQ(s.delay_ns, s.max_delay_ns);
  EXPECT_GE(s.latency_ns, s.delay_ns);
  // The blocking lock's class is credited with the deferral and its delay.
  EXPECT_EQ(c.irq_deferred.load() - deferred_before, 1u);
  EXPECT_EQ(c.irq_delay_ns.load() - delay_before, s.delay_ns);
  irq::detach(4, count_handler, &calls);
}

TEST_F(Irq, AnUndeferredDeliveryIsNotCountedAsDeferred) {
  std::atomic<int> calls{0};
  irq::attach(4, count_handler, &calls);
  irq::raise(4, cpu_index());
  const irq::LineStats s = irq::line_stats(4);
  EXPECT_EQ(s.raised, 1u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.deferred, 0u);
  EXPECT_EQ(s.delay_ns, 0u);
  irq::detach(4, count_handler, &calls);
}

TEST_F(Irq, TheLockAtTheTopWhenTheLineIsHeldBackIsCredited) {
  // The lock at the top when the line is first held back is the one credited.
  std::atomic<int> calls{0};
  irq::attach(6, count_handler, &calls);
  Lock dv(Level::DV, "irqtest low"), kt(Level::KT, "irqtest high");
  const Level p1 = dv.acquire();
  const Level p2 = kt.acquire();
  const std::uint64_t kt_before = detail::g_classes[kt.class_id()].irq_deferred.load();
  const std::uint64_t dv_before = detail::g_classes[dv.class_id()].irq_deferred.load();
  irq::raise(6, cpu_index());
  kt.release(p2);
  dv.release(p1);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(detail::g_classes[kt.class_id()].irq_deferred.load() - kt_before, 1u);
  EXPECT_EQ(detail::g_classes[dv.class_id()].irq_deferred.load() - dv_before, 0u);
  irq::detach(6, count_handler, &calls);
}

// --- other CPUs: the signal ---

struct Seen {
  std::atomic<int> calls{0};
  std::atomic<int> tid{0};
  std::atomic<int> cpu{-1};
  std::atomic<int> level{-1};
};
void seen_handler(void* arg) {
  auto* s = static_cast<Seen*>(arg);
  s->tid.store(static_cast<int>(syscall(SYS_gettid)));
  s->cpu.store(cpu_index());
  s->level.store(to_int(current_level()));
  s->calls.fetch_add(1);
}

TEST_F(Irq, ReachesAnotherCpuAtNull) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  Seen seen;
  irq::attach(1, seen_handler, &seen);
  std::atomic<bool> stop{false};
  {
    OtherCpu other([&] {
      while (!stop.load()) {
      }  // at Null, busy, never touching a lock: only the signal can deliver
    });
    irq::raise(1, other.index());
    EXPECT_TRUE(eventually([&] { return seen.calls.load() == 1; }));
    EXPECT_EQ(seen.tid.load(), other.tid());
    EXPECT_EQ(seen.cpu.load(), other.index());
    EXPECT_EQ(seen.level.load(), to_int(irq_level(1)));
    stop.store(true);
  }
  irq::detach(1, seen_handler, &seen);
}

TEST_F(Irq, ReachesAnotherCpuAtHiOnlyWhenItDrops) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  Seen seen;
  irq::attach(1, seen_handler, &seen);
  std::atomic<int> phase{0};
  std::atomic<int> calls_right_after_release{-1};
  {
    OtherCpu other([&] {
      Lock hi(Level::HI, "irqtest HI");
      const Level prev = hi.acquire();
      phase.store(1);
      while (phase.load() != 2) {
      }
      hi.release(prev);
      calls_right_after_release.store(seen.calls.load());  // delivered by the release itself
      phase.store(3);
    });
    while (phase.load() != 1) std::this_thread::yield();
    irq::raise(1, other.index());
    // The signal has come and gone (or will): the level holds the line back regardless.
    EXPECT_TRUE(eventually([&] {
      return (detail::cpu_record(static_cast<unsigned>(other.index()))->irq.deferred.load() & (1u << (to_int(irq_level(1)) - kIrqLevelLow))) != 0;
    }));
    EXPECT_EQ(seen.calls.load(), 0);
    phase.store(2);
    while (phase.load() != 3) std::this_thread::yield();
    EXPECT_EQ(calls_right_after_release.load(), 1);
    EXPECT_EQ(seen.tid.load(), other.tid());
  }
  EXPECT_EQ(irq::line_stats(1).deferred, 1u);
  irq::detach(1, seen_handler, &seen);
}

TEST_F(Irq, ReachesAnotherCpuBlockedInRead) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan holds signals back until read() returns (its interceptor is not a blocking one)";
#endif
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  Seen seen;
  irq::attach(10, seen_handler, &seen);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<int> read_result{-2};
  {
    OtherCpu other([&] {
      char c;
      read_result.store(static_cast<int>(read(fds[0], &c, 1)));  // restarted after the handler
    });
    std::this_thread::sleep_for(20ms);  // most likely blocked in read() by now (either way works)
    irq::raise(10, other.index());
    EXPECT_TRUE(eventually([&] { return seen.calls.load() == 1; }));
    EXPECT_EQ(seen.tid.load(), other.tid());
    EXPECT_EQ(read_result.load(), -2);  // still in read(): SA_RESTART resumed it
    ASSERT_EQ(write(fds[1], "x", 1), 1);
  }
  EXPECT_EQ(read_result.load(), 1);
  close(fds[0]);
  close(fds[1]);
  irq::detach(10, seen_handler, &seen);
}

TEST_F(Irq, ReachesAnotherCpuBlockedInPoll) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  Seen seen;
  irq::attach(11, seen_handler, &seen);
  std::atomic<int> poll_errno{0};
  {
    OtherCpu other([&] {
      pollfd none{};
      none.fd = -1;
      if (poll(&none, 1, 20000) < 0) poll_errno.store(errno);  // poll is not restarted: EINTR
    });
    std::this_thread::sleep_for(20ms);
    irq::raise(11, other.index());
    EXPECT_TRUE(eventually([&] { return seen.calls.load() == 1; }));
  }
  EXPECT_EQ(poll_errno.load(), EINTR);
  irq::detach(11, seen_handler, &seen);
}

TEST_F(Irq, ALineLockedOutByAnotherCpuWaitsForItsRelease) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  // Holding a line's lock keeps its handlers off every CPU, not just the holder.
  Seen seen;
  irq::attach(12, seen_handler, &seen);
  std::atomic<bool> stop{false};
  {
    OtherCpu other([&] {
      while (!stop.load()) {
      }
    });
    Lock& l = irq::line(12);
    const Level prev = l.acquire();
    irq::raise(12, other.index());
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(seen.calls.load(), 0);  // deterministic: the lock is ours until the release below
    l.release(prev);
    EXPECT_TRUE(eventually([&] { return seen.calls.load() == 1; }));
    EXPECT_EQ(seen.tid.load(), other.tid());
    stop.store(true);
  }
  irq::detach(12, seen_handler, &seen);
}

TEST_F(Irq, RaiseFromAThreadThatIsNotACpu) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer takes the signal itself and runs our handler later, at one of its own points;
  // about one run in four it never does while the target sleeps here, so this test cannot tell a
  // lost raise from TSan's deferral. The normal and ASan builds run it.
  GTEST_SKIP() << "TSan defers signal delivery to its own points";
#endif
  Seen seen;
  irq::attach(13, seen_handler, &seen);
  const int me = cpu_index();
  std::thread([me] {
    irq::raise(13, me);  // never attaches
    EXPECT_EQ(detail::this_cpu_if_attached(), nullptr);
  }).join();
  // We are at Null and not in a system call: the signal (already delivered or about to be) or our
  // next level drop delivers it.
  EXPECT_TRUE(eventually([&] { return seen.calls.load() == 1; }));
  EXPECT_EQ(seen.cpu.load(), me);
  irq::detach(13, seen_handler, &seen);
}

// A user's own signal handler raising a line: on this CPU below the line's level it is delivered
// right there, inside that signal handler; above it, it waits for the release as always.
std::atomic<int> g_raise_target{-1};
void raising_signal_handler(int) { irq::raise(13, g_raise_target.load()); }

TEST_F(Irq, RaiseFromASignalHandler) {
  std::atomic<int> calls{0};
  irq::attach(13, count_handler, &calls);
  struct sigaction sa {}, old {};
  sa.sa_handler = raising_signal_handler;
  sigemptyset(&sa.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  g_raise_target.store(cpu_index());
  pthread_kill(pthread_self(), SIGUSR1);  // a signal to oneself is handled before this returns
  EXPECT_EQ(calls.load(), 1);
  Lock kt(Level::KT, "irqtest KT");
  const Level prev = kt.acquire();
  pthread_kill(pthread_self(), SIGUSR1);
  EXPECT_EQ(calls.load(), 1);  // held back by KT
  kt.release(prev);
  EXPECT_EQ(calls.load(), 2);
  sigaction(SIGUSR1, &old, nullptr);
  irq::detach(13, count_handler, &calls);
}

// --- softints ---

struct SoftSeen {
  std::atomic<int> calls{0};
  std::atomic<int> level{-1};
  std::atomic<int> cpu{-1};
};
SoftSeen g_soft;
void softint_routine(void* arg, int cpu) {
  auto* s = static_cast<SoftSeen*>(arg);
  s->level.store(to_int(current_level()));
  s->cpu.store(cpu);
  s->calls.fetch_add(1);
}

class Softint : public Irq {
 protected:
  void SetUp() override {
    Irq::SetUp();
    g_soft.calls.store(0);
    softint::set_routine(softint_routine, &g_soft);
  }
  void TearDown() override { softint::set_routine(nullptr, nullptr); }
};

TEST_F(Softint, AtNullRunsAtOnceAtSoftint) {
  softint::request(cpu_index());
  EXPECT_EQ(g_soft.calls.load(), 1);
  EXPECT_EQ(g_soft.level.load(), to_int(Level::Softint));
  EXPECT_EQ(g_soft.cpu.load(), cpu_index());
  EXPECT_EQ(current_level(), Level::Null);
}

TEST_F(Softint, HeldBackAtSoftintAndDeliveredBySetSoftint) {
  EXPECT_TRUE(set_softint(false));
  softint::request(cpu_index());
  softint::request(cpu_index());  // merges
  EXPECT_EQ(g_soft.calls.load(), 0);
  EXPECT_FALSE(set_softint(true));
  EXPECT_EQ(g_soft.calls.load(), 1);
}

TEST_F(Softint, AReleaseToNullDeliversAReleaseToSoftintDoesNot) {
  Lock dv(Level::DV, "irqtest DV");
  Level prev = dv.acquire();
  softint::request(cpu_index());
  EXPECT_EQ(g_soft.calls.load(), 0);
  dv.release(prev);  // to Null
  EXPECT_EQ(g_soft.calls.load(), 1);

  (void)set_softint(false);
  prev = dv.acquire();
  EXPECT_EQ(prev, Level::Softint);
  softint::request(cpu_index());
  dv.release(prev);  // to Softint: still held back
  EXPECT_EQ(g_soft.calls.load(), 1);
  (void)set_softint(true);
  EXPECT_EQ(g_soft.calls.load(), 2);
}

TEST_F(Softint, ReachesAnotherCpuAtNull) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  std::atomic<bool> stop{false};
  OtherCpu other([&] {
    while (!stop.load()) {
    }
  });
  softint::request(other.index());
  EXPECT_TRUE(eventually([&] { return g_soft.calls.load() == 1; }));
  EXPECT_EQ(g_soft.cpu.load(), other.index());
  stop.store(true);
}

// --- lowipl ---

struct LowiplSeen {
  std::atomic<int> calls{0};
  std::atomic<int> level{-1};
  std::atomic<int> held{-1};
  std::atomic<int> cpu{-1};
  std::atomic<int> tid{0};
};

int held_count() {
  int n = 0;
  for (const detail::HeldEntry& e : detail::this_cpu().held) n += e.key != 0;
  return n;
}

void lowipl_routine(void* arg) {
  auto* s = static_cast<LowiplSeen*>(arg);
  s->level.store(to_int(current_level()));
  s->held.store(held_count());
  s->cpu.store(cpu_index());
  s->tid.store(static_cast<int>(syscall(SYS_gettid)));
  s->calls.fetch_add(1);
}

void ordered_routine(void* arg) { log_event(100 + static_cast<int>(reinterpret_cast<std::uintptr_t>(arg))); }

TEST_F(Irq, LowiplFromAHandlerRunsAfterItAtSoftintWithNoLocks) {
  static LowiplSeen seen;
  static std::atomic<int> calls_when_handler_returned{-1};
  seen.calls.store(0);
  auto handler = [](void*) {
    lowipl::call(lowipl_routine, &seen);
    calls_when_handler_returned.store(seen.calls.load());
  };
  irq::attach(14, handler, nullptr);
  Lock dv(Level::DV, "irqtest DV");
  const Level prev = dv.acquire();
  irq::raise(14, cpu_index());  // runs now, at IRQ 14 above DV; the routine waits for Null
  EXPECT_EQ(calls_when_handler_returned.load(), 0);
  EXPECT_EQ(seen.calls.load(), 0);
  EXPECT_EQ(lowipl::queued(), 1u);
  dv.release(prev);
  EXPECT_EQ(seen.calls.load(), 1);
  EXPECT_EQ(seen.level.load(), to_int(Level::Softint));
  EXPECT_EQ(seen.held.load(), 0);
  EXPECT_EQ(seen.cpu.load(), cpu_index());
  EXPECT_EQ(lowipl::queued(), 0u);
  irq::detach(14, handler, nullptr);
}

TEST_F(Irq, LowiplAtNullHasRunWhenCallReturns) {
  LowiplSeen seen;
  lowipl::call(lowipl_routine, &seen);
  EXPECT_EQ(seen.calls.load(), 1);
  EXPECT_EQ(seen.level.load(), to_int(Level::Softint));
}

TEST_F(Irq, LowiplRoutinesOfOneCpuRunInCallOrder) {
  Lock hi(Level::HI, "irqtest HI");
  const Level prev = hi.acquire();
  for (std::uintptr_t k = 0; k < 10; ++k) lowipl::call(ordered_routine, reinterpret_cast<void*>(k));
  EXPECT_TRUE(log_whats().empty());
  hi.release(prev);
  std::vector<int> want;
  for (int k = 0; k < 10; ++k) want.push_back(100 + k);
  EXPECT_EQ(log_whats(), want);
}

TEST_F(Irq, LowiplAtSoftintWaitsForNull) {
  LowiplSeen seen;
  (void)set_softint(false);
  lowipl::call(lowipl_routine, &seen);
  EXPECT_EQ(seen.calls.load(), 0);
  (void)set_softint(true);
  EXPECT_EQ(seen.calls.load(), 1);
}

TEST_F(Irq, LowiplStillQueuedWhenTheThreadEndsRunsOnThatThread) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  LowiplSeen seen;
  int tid = 0;
  {
    OtherCpu other([&] {
      (void)set_softint(false);  // and it never comes back down
      for (int i = 0; i < 3; ++i) lowipl::call(lowipl_routine, &seen);
    });
    tid = other.tid();
  }
  EXPECT_EQ(seen.calls.load(), 3);
  EXPECT_EQ(seen.tid.load(), tid);
  EXPECT_EQ(seen.level.load(), to_int(Level::Softint));
}

TEST_F(Irq, ManyLowiplCallsWrapTheQueue) {
  std::atomic<int> count{0};
  auto inc = [](void* a) { static_cast<std::atomic<int>*>(a)->fetch_add(1); };
  Lock hi(Level::HI, "irqtest HI");
  for (int round = 0; round < 5; ++round) {
    const Level prev = hi.acquire();
    for (unsigned i = 0; i < detail::kLowiplSlots; ++i) lowipl::call(inc, &count);  // a full queue
    hi.release(prev);
  }
  EXPECT_EQ(count.load(), 5 * static_cast<int>(detail::kLowiplSlots));
}

TEST_F(Irq, IrqsStillInterruptALowiplRoutine) {
  static Seen seen;
  seen.calls.store(0);
  irq::attach(15, seen_handler, &seen);
  auto routine = [](void*) { irq::raise(15, cpu_index()); };  // at Softint: below every line
  lowipl::call(routine, nullptr);
  EXPECT_EQ(seen.calls.load(), 1);
  irq::detach(15, seen_handler, &seen);
}

}  // namespace
}  // namespace smplock
