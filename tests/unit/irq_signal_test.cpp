// irq::set_signal(): a program that picks its own interrupt signal before any thread uses the
// library gets it, and cross-CPU delivery goes through it. (A program of its own: the signal is
// fixed once the first CPU attaches.)
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <thread>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

const int g_chosen = [] {
  irq::set_signal(SIGRTMIN + 4);  // before main: no thread has attached yet
  return SIGRTMIN + 4;
}();

std::atomic<int> g_calls{0};
void count(void*) { g_calls.fetch_add(1); }

TEST(IrqSignal, TheChosenSignalCarriesInterrupts) {
#ifdef SMPLOCK_UNIPROCESSOR
  GTEST_SKIP() << "needs a second CPU";
#endif
  EXPECT_EQ(irq::signal_number(), g_chosen);
  irq::attach(4, count, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> index{-1};
  std::thread other([&] {
    index.store(cpu_index());
    while (!stop.load()) {
    }
  });
  while (index.load() < 0) std::this_thread::yield();
  struct sigaction sa {};
  ASSERT_EQ(sigaction(g_chosen, nullptr, &sa), 0);
  EXPECT_NE(sa.sa_flags & SA_SIGINFO, 0);  // ours is installed
  ASSERT_EQ(sigaction(SIGURG, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);  // and the default one is left alone
  irq::raise(4, index.load());
  for (int i = 0; i < 20000 && g_calls.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::microseconds(250));
  EXPECT_EQ(g_calls.load(), 1);
  stop.store(true);
  other.join();
  irq::detach(4, count, nullptr);
}

}  // namespace
}  // namespace smplock
