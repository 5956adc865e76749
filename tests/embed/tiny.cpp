// tests/embed/tiny.cpp: the smallest program that uses smplock (one lock taken once), linked with
// libsmplock.a, for the footprint test: what the library adds to a program's file.
#include "smplock/smplock.hpp"

int main() {
  smplock::Lock lock(smplock::Level::PS, "tiny");
  smplock::Guard g(lock);
  return smplock::cpu_index() == 0 ? 0 : 1;
}
