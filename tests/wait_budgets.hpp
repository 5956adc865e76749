// tests/wait_budgets.hpp: sets the contended acquire's budgets (spin, yield, hunger: src/lock.cpp)
// for one test or one run, and puts the library's values back when it goes out of scope.
#pragma once

#include <cstdint>

#include "internal.hpp"

namespace smplock::test {

class WaitBudgets {
 public:
  static constexpr std::uint64_t kNever = ~std::uint64_t{0};
  WaitBudgets(std::uint64_t spin_ns, std::uint64_t yield_ns, std::uint64_t hunger_ns)
      : spin_(detail::g_spin_budget_ns.exchange(spin_ns)),
        yield_(detail::g_yield_budget_ns.exchange(yield_ns)),
        hunger_(detail::g_hunger_budget_ns.exchange(hunger_ns)) {}
  ~WaitBudgets() {
    detail::g_spin_budget_ns.store(spin_);
    detail::g_yield_budget_ns.store(yield_);
    detail::g_hunger_budget_ns.store(hunger_);
  }
  WaitBudgets(const WaitBudgets&) = delete;
  WaitBudgets& operator=(const WaitBudgets&) = delete;

 private:
  std::uint64_t spin_, yield_, hunger_;
};

}  // namespace smplock::test
