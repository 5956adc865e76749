// smplock/detail/irq_state.hpp: per-CPU interrupt delivery state, a member of CpuRecord. Not for
// users. (Owned by the interrupt part: src/irq.cpp.)
#pragma once

#include <atomic>
#include <cstdint>

namespace smplock::detail {

struct IrqCpuState {
  std::uint32_t reserved = 0;
};

}  // namespace smplock::detail
