// raise_level() under a real interrupt storm: a raiser thread (not a CPU) raises lines at a target
// CPU that keeps raising and lowering its level without a lock, to random levels among the IRQs,
// and writes per-CPU data in between (the use raise_level() is for). Checked:
//   - no handler ever runs while the target's level is raised to or above the handler's line
//     (the handler reads the level the target's loop published before raising);
//   - the per-CPU data the loop updates while raised is never touched by a handler in between
//     (a handler that saw it half-written would count a tear);
//   - every raise is delivered: once quiet, the handlers' calls add up to the raises made, less
//     the merges the library counted.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr unsigned kLines[] = {0, 3, 7, 12};  // levels 0xEF, 0xE4, 0xE0, 0xE8
constexpr std::uint64_t kRounds = 300000;  // the target's raise/lower rounds
constexpr auto kBudget = 3s;               // the target stops early on a slow machine (sanitizers)

std::atomic<int> g_target{-1};
std::atomic<std::uint8_t> g_raised_to{0};  // the target's raised level (0: not raised)
std::atomic<std::uint64_t> g_calls{0}, g_bad_level{0}, g_tears{0};
// Written by the target's loop only while raised to at least IRQ 0's level... or read by a
// handler: both halves must always agree when a handler looks.
std::atomic<std::uint64_t> g_half_a{0}, g_half_b{0};

void handler(void* arg) {
  const auto line = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(arg));
  g_calls.fetch_add(1, std::memory_order_relaxed);
  if (g_raised_to.load(std::memory_order_relaxed) >= to_int(irq_level(line)))
    g_bad_level.fetch_add(1, std::memory_order_relaxed);
  if (g_half_a.load(std::memory_order_relaxed) != g_half_b.load(std::memory_order_relaxed))
    g_tears.fetch_add(1, std::memory_order_relaxed);
}

TEST(RaiseLevelStress, InterruptsNeverRunAtOrBelowARaisedLevel) {
  for (unsigned line : kLines) irq::attach(line, handler, reinterpret_cast<void*>(std::uintptr_t{line}));
  std::uint64_t delivered_before = 0, merged_before = 0;
  for (unsigned line : kLines) {
    delivered_before += irq::line_stats(line).delivered;
    merged_before += irq::line_stats(line).merged;
  }
  g_target.store(cpu_index());
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> raised{0};
  std::thread raiser([&] {  // not a CPU: raise() is allowed from any thread
    std::mt19937 rng(7);
    while (!stop.load(std::memory_order_relaxed)) {
      irq::raise(kLines[rng() % std::size(kLines)], g_target.load());
      raised.fetch_add(1, std::memory_order_relaxed);
      for (int i = 0; i < 200; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  });

  std::mt19937 rng(11);
  const Level levels[] = {irq_level(7), irq_level(3), irq_level(12), irq_level(0), Level::HI};
  std::uint64_t rounds = 0;
  const auto deadline = Clock::now() + kBudget;
  for (; rounds < kRounds && (rounds % 1024 != 0 || Clock::now() < deadline); ++rounds) {
    const Level to = levels[rng() % std::size(levels)];
    const Level prev = raise_level(to);
    // Published after the raise: a handler that runs now must be above `to`.
    g_raised_to.store(to_int(to), std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (to_int(to) >= to_int(irq_level(0))) {  // every line held back: tear the pair on purpose
      g_half_a.fetch_add(1, std::memory_order_relaxed);
      for (int spin = 0; spin < 400; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);
      g_half_b.fetch_add(1, std::memory_order_relaxed);
    }
    std::atomic_signal_fence(std::memory_order_seq_cst);
    g_raised_to.store(0, std::memory_order_relaxed);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    lower_level(prev);
  }
  stop.store(true);
  raiser.join();
  // Quiet: take what is still pending (the level is Null, so nothing is held back).
  const Level p = raise_level(Level::Softint);
  lower_level(p);

  std::uint64_t delivered = 0, merged = 0;
  for (unsigned line : kLines) {
    delivered += irq::line_stats(line).delivered;
    merged += irq::line_stats(line).merged;
  }
  EXPECT_GT(rounds, 0u);
  EXPECT_GT(g_calls.load(), 0u);
  RecordProperty("rounds", static_cast<int>(rounds));
  RecordProperty("raises", static_cast<int>(raised.load()));
  EXPECT_EQ(g_bad_level.load(), 0u);
  EXPECT_EQ(g_tears.load(), 0u);
  EXPECT_EQ(delivered - delivered_before, g_calls.load());
  EXPECT_EQ(raised.load(), (delivered - delivered_before) + (merged - merged_before));
  for (unsigned line : kLines) irq::detach(line, handler, reinterpret_cast<void*>(std::uintptr_t{line}));
}

}  // namespace
}  // namespace smplock
