// Interrupt delivery. (The interrupt part fills this in: IRQ dispatch, softints, lowipl.)
#include "internal.hpp"

namespace smplock::detail {

void deliver_pending(CpuRecord& cpu) { (void)cpu; }
void on_cpu_attach(CpuRecord& cpu) { cpu.pending.store(0, std::memory_order_relaxed); }
void on_cpu_detach(CpuRecord& cpu) { (void)cpu; }

}  // namespace smplock::detail
