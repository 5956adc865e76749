// An interrupt storm: raiser threads (CPUs and a thread that is not one) raise random lines on
// target CPUs that keep changing their level (lock chains through the line locks, Softint, blocking
// system calls). Handlers raise higher lines on their own CPU and queue lowipl routines. Checked:
//   - no raise is lost: every raise bumps a per (target, line) count before raising, and handlers
//     claim those counts; once quiet, claimed == raised, exactly;
//   - the library's own counts agree: delivered == raised - merged on every line, and equal to
//     the handler calls;
//   - no handler ever ran at or below a level it must not (it runs at its line's level, interrupting
//     a level below it), nor on a CPU the line was not raised on;
//   - every lowipl routine ran once, at Softint, with no lock held.
#include <gtest/gtest.h>
#include <time.h>

#include <array>
#include <atomic>
#include <chrono>
#include <random>
#include <thread>
#include <vector>

#include "internal.hpp"
#include "smplock/smplock.hpp"

namespace smplock {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

#ifdef SMPLOCK_UNIPROCESSOR
constexpr int kTargets = 1;  // the one CPU there is: the test's main thread; raisers are not CPUs
#else
constexpr int kTargets = 2;
#endif
constexpr int kRaisers = 3;
constexpr int kRaisesPerRaiser = 40000;
constexpr auto kBudget = 4s;  // raisers stop early if the machine is slow (sanitizers)

struct alignas(64) Cell {
  std::atomic<std::uint64_t> outstanding{0};  // raised, not yet claimed by a handler
  std::atomic<std::uint64_t> claimed{0};
};
Cell g_cells[kTargets][kIrqCount];
std::atomic<int> g_target_index[kTargets];
std::atomic<std::uint64_t> g_raised[kIrqCount];
std::atomic<std::uint64_t> g_calls[kIrqCount];
std::atomic<std::uint64_t> g_bad_level{0}, g_bad_cpu{0}, g_bad_routine{0};
std::atomic<std::uint64_t> g_lowipl_queued{0}, g_lowipl_ran{0}, g_nested_raises{0};

int target_slot(int cpu) {
  for (int t = 0; t < kTargets; ++t)
    if (g_target_index[t].load(std::memory_order_relaxed) == cpu) return t;
  return -1;
}

void raise_counted(unsigned line, int slot) {
  g_cells[slot][line].outstanding.fetch_add(1, std::memory_order_relaxed);
  g_raised[line].fetch_add(1, std::memory_order_relaxed);
  irq::raise(line, g_target_index[slot].load(std::memory_order_relaxed));
}

void routine(void*) {
  const detail::CpuRecord& cpu = detail::this_cpu();
  bool bad = current_level() != Level::Softint;
  for (const detail::HeldEntry& e : cpu.held) bad |= e.key != 0;
  if (bad) g_bad_routine.fetch_add(1, std::memory_order_relaxed);
  g_lowipl_ran.fetch_add(1, std::memory_order_relaxed);
}

void handler(void* arg) {
  const auto line = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(arg));
  const std::uint8_t mine = to_int(irq_level(line));
  detail::CpuRecord& cpu = detail::this_cpu();
  if (to_int(current_level()) != mine || to_int(cpu.held[mine].previous()) >= mine ||
      irq::line(line).owner() != cpu.index)
    g_bad_level.fetch_add(1, std::memory_order_relaxed);
  const int slot = target_slot(cpu.index);
  if (slot < 0) {
    g_bad_cpu.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Cell& c = g_cells[slot][line];
  // Claim every raise made so far: relaxed is enough, the delivery's acquire of the pending bit
  // already ordered the raiser's increment before us.
  c.claimed.fetch_add(c.outstanding.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  const std::uint64_t n = g_calls[line].fetch_add(1, std::memory_order_relaxed);
  if (n % 16 == 0) {
    g_lowipl_queued.fetch_add(1, std::memory_order_relaxed);
    lowipl::call(routine, nullptr);
  }
  if (n % 8 == 0 && line != 0) {  // a higher line on this CPU: nests right here
    g_nested_raises.fetch_add(1, std::memory_order_relaxed);
    raise_counted(0, slot);
  }
}

void spin(unsigned n) {
  for (unsigned i = 0; i < n; ++i) asm volatile("" ::: "memory");
}

// What a target does until told to stop: change its level in every way there is.
void target(int slot, std::atomic<bool>& stop) {
  g_target_index[slot].store(cpu_index());
  std::mt19937 rng(1234u + static_cast<unsigned>(slot));
  Lock dv(Level::DV, "storm DV"), kt(Level::KT, "storm KT"), hi(Level::HI, "storm HI");
  Lock* chain[] = {&dv, &irq::line(7), &irq::line(3), &irq::line(8), &irq::line(0), &kt, &hi};
  while (!stop.load(std::memory_order_relaxed)) {
    switch (rng() % 5) {
      case 0:
        spin(rng() % 2000);  // at Null: only the signal delivers
        break;
      case 1: {  // a random rising chain of locks, released in reverse
        Lock* taken[7];
        Level prev[7];
        int k = 0;
        for (Lock* l : chain)
          if (rng() % 2 == 0) {
            prev[k] = l->acquire();
            taken[k++] = l;
            spin(rng() % 300);
          }
        while (k-- > 0) taken[k]->release(prev[k]);
        break;
      }
      case 2: {
        (void)set_softint(false);
        spin(rng() % 1000);
        const Level p = kt.acquire();
        spin(rng() % 300);
        kt.release(p);  // to Softint: IRQs go, softints wait
        (void)set_softint(true);
        break;
      }
      case 3: {
        const timespec ts{0, 20'000};
        nanosleep(&ts, nullptr);  // blocked in a system call (EINTR is fine)
        break;
      }
      case 4: {
        Level p;
        if (hi.try_acquire(p)) hi.release(p);
        break;
      }
    }
  }
}

std::uint64_t outstanding() {
  std::uint64_t sum = 0;
  for (auto& row : g_cells)
    for (auto& c : row) sum += c.outstanding.load();
  return sum;
}

TEST(IrqStorm, EveryRaiseIsDeliveredAtTheRightLevel) {
  irq::reset_line_stats();
  for (auto& t : g_target_index) t.store(-1);
  for (unsigned n = 0; n < kIrqCount; ++n) irq::attach(n, handler, reinterpret_cast<void*>(std::uintptr_t{n}));

  std::atomic<bool> stop{false};
  std::vector<std::thread> targets;
#ifdef SMPLOCK_UNIPROCESSOR
  g_target_index[0].store(cpu_index());  // this thread is the target (see below)
#else
  for (int t = 0; t < kTargets; ++t) targets.emplace_back(target, t, std::ref(stop));
#endif
  for (auto& t : g_target_index)
    while (t.load() < 0) std::this_thread::yield();

  const auto deadline = Clock::now() + kBudget;
  std::atomic<std::uint64_t> sent{0};
  std::vector<std::thread> raisers;
  for (int r = 0; r < kRaisers; ++r)
    raisers.emplace_back([r, deadline, &sent] {
      std::mt19937 rng(99u + static_cast<unsigned>(r));
      Lock qu(Level::QU, "storm raiser QU"), hi(Level::HI, "storm raiser HI");
      for (int i = 0; i < kRaisesPerRaiser; ++i) {
        if ((i & 255) == 0 && Clock::now() > deadline) break;
        const int slot = static_cast<int>(rng() % kTargets);
        const unsigned line = rng() % kIrqCount;
#ifdef SMPLOCK_UNIPROCESSOR
        const bool cpu = false;  // a second CPU would be a crash: every raiser stays a plain thread
#else
        const bool cpu = r != 0;
#endif
        if (!cpu) {  // not a CPU: never touches a lock
          raise_counted(line, slot);
        } else {  // a CPU raising at various levels of its own
          Lock& l = (i % 2 == 0) ? qu : hi;
          const Level p = l.acquire();
          raise_counted(line, slot);
          l.release(p);
        }
        sent.fetch_add(1, std::memory_order_relaxed);
        if (i % 64 == 0) std::this_thread::yield();
      }
    });
  // When the raisers are done, wait (bounded) until every raise has been claimed, then stop.
  auto monitor = [&] {
    for (auto& r : raisers) r.join();
    const auto quiet_deadline = Clock::now() + 20s;
    while (outstanding() != 0 && Clock::now() < quiet_deadline) std::this_thread::sleep_for(1ms);
    stop.store(true);
  };
#ifdef SMPLOCK_UNIPROCESSOR
  std::thread monitor_thread(monitor);
  target(0, stop);
  monitor_thread.join();
  (void)set_softint(false);
  (void)set_softint(true);  // anything still queued for Null
#else
  monitor();
  for (auto& t : targets) t.join();  // each drains its lowipl queue as it ends
#endif

  EXPECT_EQ(outstanding(), 0u) << "raises never delivered";
  std::uint64_t claimed = 0, raised = 0;
  for (auto& row : g_cells)
    for (auto& c : row) claimed += c.claimed.load();
  for (auto& r : g_raised) raised += r.load();
  EXPECT_EQ(raised, sent.load() + g_nested_raises.load());
  EXPECT_EQ(claimed, raised);
  EXPECT_GT(sent.load(), 1000u);
  EXPECT_EQ(g_bad_level.load(), 0u);
  EXPECT_EQ(g_bad_cpu.load(), 0u);
  for (unsigned n = 0; n < kIrqCount; ++n) {
    const irq::LineStats s = irq::line_stats(n);
    EXPECT_EQ(s.raised, g_raised[n].load()) << "line " << n;
    EXPECT_EQ(s.delivered, s.raised - s.merged) << "line " << n;
    EXPECT_EQ(s.delivered, g_calls[n].load()) << "line " << n;
    EXPECT_LE(s.deferred, s.delivered) << "line " << n;
  }
  std::uint64_t merged = 0, deferred = 0;
  for (unsigned n = 0; n < kIrqCount; ++n) {
    merged += irq::line_stats(n).merged;
    deferred += irq::line_stats(n).deferred;
  }
  EXPECT_EQ(g_lowipl_ran.load(), g_lowipl_queued.load());
  EXPECT_EQ(g_bad_routine.load(), 0u);
  for (unsigned n = 0; n < kIrqCount; ++n) irq::detach(n, handler, reinterpret_cast<void*>(std::uintptr_t{n}));
  std::printf("storm: %llu raises (%llu nested in handlers, %llu merged), %llu deliveries held back by the level, "
              "%llu lowipl routines\n",
              static_cast<unsigned long long>(raised), static_cast<unsigned long long>(g_nested_raises.load()),
              static_cast<unsigned long long>(merged), static_cast<unsigned long long>(deferred),
              static_cast<unsigned long long>(g_lowipl_ran.load()));
}

}  // namespace
}  // namespace smplock
