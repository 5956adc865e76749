// A thin lock wrapper of the kind a program writes itself, for the call-site tests: it passes its
// caller's line on, which is what lets reports see through it to the user's line (docs/design.md,
// "Call sites").
#pragma once

#include <source_location>

#include "smplock/smplock.hpp"

namespace smplock::testing_support {

class MyGuard {
 public:
  explicit MyGuard(Lock& l, std::source_location where = std::source_location::current())
      : lock_(l), previous_(l.acquire(where)) {}
  ~MyGuard() { lock_.release(previous_); }

 private:
  Lock& lock_;
  const Level previous_;
};

}  // namespace smplock::testing_support
