// Uses the public names of DESIGN §9 from an installed smplock.
#include <smplock/smplock.hpp>

#include <cstdio>
#include <mutex>

int main() {
  static constinit smplock::Lock pm{smplock::Level::PM, "PM"};
  smplock::Lock np{smplock::Level::NP, "NP"};
  const smplock::Level prev = pm.acquire();
  {
    std::lock_guard g(np);
    smplock::check_level(smplock::Level::NP);
  }
  pm.release(prev);
  smplock::Level p{};
  if (!np.try_acquire(p)) return 1;
  np.release(p);
  const bool was = smplock::set_softint(false);
  smplock::set_softint(was);
  std::printf("consumer ok: cpu %d at %s, IRQ 3 is level %s\n", smplock::cpu_index(),
              smplock::level_name(smplock::current_level()).data(),
              smplock::level_name(smplock::irq_level(3)).data());
  return smplock::current_level() == smplock::Level::Null ? 0 : 1;
}
