// Interrupt crashes: a handler breaking R1, a handler or routine returning with a lock held, and
// every misuse of the interrupt API that is a clear crash rather than an error code.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "smplock/smplock.hpp"

namespace smplock {
namespace {

class IrqDeath : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

Lock g_np{Level::NP, "irqtest NP"};
Lock g_kt{Level::KT, "irqtest KT"};

void handler_takes_np(void*) { (void)g_np.acquire(); }
void handler_keeps_kt(void*) { (void)g_kt.acquire(); }
void routine_keeps_kt(void*) { (void)g_kt.acquire(); }
void nothing(void*) {}

TEST_F(IrqDeath, AHandlerAcquiringALockBelowItsLevelBreaksR1) {
  EXPECT_DEATH(
      {
        irq::attach(3, handler_takes_np, nullptr);
        irq::raise(3, cpu_index());
      },
      "R1 acquire upward only(.|\n)*lock +\"irqtest NP\" level 0x68 NP(.|\n)*cpu .* at level 0xe4 IRQ 3"
      "(.|\n)*\"IRQ 3\" level 0xe4");
}

TEST_F(IrqDeath, AHandlerReturningWithALockHeldCrashes) {
  EXPECT_DEATH(
      {
        irq::attach(5, handler_keeps_kt, nullptr);
        irq::raise(5, cpu_index());
      },
      "FATAL(.|\n)*an IRQ handler returned at another level(.|\n)*\"IRQ 5\"(.|\n)*\"irqtest KT\"");
}

TEST_F(IrqDeath, ALowiplRoutineReturningWithALockHeldCrashes) {
  EXPECT_DEATH(lowipl::call(routine_keeps_kt, nullptr),
               "a lowipl routine returned holding a lock(.|\n)*\"irqtest KT\"");
}

TEST_F(IrqDeath, RaiseOnANonexistentLineCrashes) {
  EXPECT_DEATH(irq::raise(16, cpu_index()), "FATAL(.|\n)*irq::raise\\(\\): no such IRQ line");
}

TEST_F(IrqDeath, RaiseOnACpuThatIsNotAttachedCrashes) {
  EXPECT_DEATH(irq::raise(0, -1), "irq::raise\\(\\): no attached CPU with that index");
  EXPECT_DEATH(irq::raise(0, static_cast<int>(max_cpus())), "irq::raise\\(\\): no attached CPU");
  EXPECT_DEATH(irq::raise(0, static_cast<int>(max_cpus()) - 1), "irq::raise\\(\\): no attached CPU");
  EXPECT_DEATH(softint::request(static_cast<int>(max_cpus()) - 1), "softint::request\\(\\): no attached CPU");
}

TEST_F(IrqDeath, TooManyHandlersOnALineCrashes) {
  EXPECT_DEATH(
      {
        for (std::uintptr_t i = 0; i <= irq::kMaxHandlers; ++i) irq::attach(8, nothing, reinterpret_cast<void*>(i));
      },
      "irq::attach\\(\\): the line already has irq::kMaxHandlers handlers(.|\n)*\"IRQ 8\"");
}

TEST_F(IrqDeath, DetachingAHandlerNeverAttachedCrashes) {
  EXPECT_DEATH(irq::detach(9, nothing, nullptr), "irq::detach\\(\\): no such handler on the line");
}

TEST_F(IrqDeath, AttachingAboveTheLinesLevelBreaksR1) {
  EXPECT_DEATH(
      {
        (void)g_kt.acquire();
        irq::attach(2, nothing, nullptr);
      },
      "R1 acquire upward only(.|\n)*\"IRQ 2\"");
}

TEST_F(IrqDeath, LowiplAboveHiCrashes) {
  EXPECT_DEATH(
      {
        Lock top(static_cast<Level>(0xFE), "irqtest above HI");
        (void)top.acquire();
        lowipl::call(nothing, nullptr);
      },
      "lowipl::call\\(\\) above HI(.|\n)*\"irqtest above HI\"");
}

TEST_F(IrqDeath, AFullLowiplQueueCrashes) {
  EXPECT_DEATH(
      {
        (void)g_kt.acquire();  // never comes down, so nothing runs
        for (int i = 0; i <= 512; ++i) lowipl::call(nothing, nullptr);
      },
      "lowipl::call\\(\\): 512 routines already wait on this CPU");
}

TEST_F(IrqDeath, ChangingTheSignalAfterItIsInUseCrashes) {
  EXPECT_DEATH(
      {
        irq::raise(0, cpu_index());  // the first use of interrupts: the signal is installed
        irq::set_signal(SIGRTMIN + 1);
      },
      "irq::set_signal\\(\\) after the interrupt signal is in use");
}

TEST_F(IrqDeath, ChangingTheSignalAfterOnlyLocksWereUsedIsAllowed) {
  // Attaching and taking locks does not put the signal in use (issue 11): only interrupts do.
  EXPECT_EXIT(
      {
        (void)cpu_index();
        Lock l(Level::PS, "locks only");
        { Guard g(l); }
        irq::set_signal(SIGRTMIN + 1);
        std::exit(irq::signal_number() == SIGRTMIN + 1 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST_F(IrqDeath, SettingASignalThatCannotBeCaughtCrashes) {
  EXPECT_DEATH(irq::set_signal(SIGKILL), "irq::set_signal\\(\\): not a signal that can be caught");
}

TEST(IrqSignal, SettingTheSameSignalAgainIsAllowed) {
  (void)cpu_index();
  irq::set_signal(irq::signal_number());
  EXPECT_EQ(irq::signal_number(), SIGURG);
}

}  // namespace
}  // namespace smplock
