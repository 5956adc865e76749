// Compiled by ctest, not built: a `constinit` lock at SMPLOCK_TEST_LEVEL. At Null or Softint it must
// not compile (the constructor's R6 check is not a constant expression there); at PS it must, which
// shows the failure above is the check's and not a broken command line (tests/CMakeLists.txt).
#include "smplock/lock.hpp"

constinit smplock::Lock g_lock(smplock::Level::SMPLOCK_TEST_LEVEL, "constinit-lock");

int main() { return g_lock.level() == smplock::Level::PS ? 0 : 1; }
