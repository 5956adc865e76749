// Interrupts: the IRQ lines the kernel attaches (timer, one per NIC queue, one per disk) and the
// timer: a thread raises IRQ 0 on every CPU; the handler counts the tick, asks for a reschedule and
// queues a lowipl routine that charges the tick to the running process.
//
// Locks: the handler holds only its line's lock (at the line's level); the timer's lowipl routine
// takes the kernel lock (giant) and then PS.
#include "objects.hpp"
#include "smplock/irq.hpp"
#include "smplock/lowipl.hpp"

namespace smplock::pound::detail {

std::vector<unsigned> Kernel::lines() const {
  std::vector<unsigned> v{kIrqTimer};
  for (const auto& n : nics_) v.push_back(n->irq);
  for (const auto& d : disks_) v.push_back(d->irq);
  return v;
}

void Kernel::attach_irqs() {
  irq::attach(kIrqTimer, timer_irq, this);
  for (auto& n : nics_) irq::attach(n->irq, nic_irq, n.get());
  for (auto& d : disks_) irq::attach(d->irq, disk_irq, d.get());
}

void Kernel::detach_irqs() {
  irq::detach(kIrqTimer, timer_irq, this);
  for (auto& n : nics_) irq::detach(n->irq, nic_irq, n.get());
  for (auto& d : disks_) irq::detach(d->irq, disk_irq, d.get());
}

void Kernel::timer_tick_all() {
  for (auto& c : cpus) {
    irq::raise(kIrqTimer, c->index);
    timer_raises.fetch_add(1, std::memory_order_relaxed);
  }
}

void Kernel::timer_irq(void* arg) {
  // Every CPU's clock tick: end the quantum, and hand the accounting to a lowipl routine (the
  // process state lock is far below this level).
  Kernel& k = *static_cast<Kernel*>(arg);
  Cpu& c = k.this_cpu();
  c.ticks.store(c.ticks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  c.resched.store(true, std::memory_order_relaxed);
  c.lowipl_calls.fetch_add(1, std::memory_order_relaxed);
  lowipl::call(timer_dpc, &c);
}

void Kernel::timer_dpc(void* arg) {
  Cpu& c = *static_cast<Cpu*>(arg);
  Held entry(c.kernel->kernel_);
  if (Process* p = c.current_proc.load(std::memory_order_relaxed); p != nullptr) {
    Held ps(p->ps);
    ++p->ticks;
  }
  c.timer_dpcs.store(c.timer_dpcs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace smplock::pound::detail
