// A fixed snapshot for the report tests: one second on 2 CPUs (2e9 ns of CPU time), so 20 ms of
// waiting is exactly 1%.
//   PM  (0x48)  wait 40 ms = 2%: over budget, the split candidate
//   CP  (0x49)  wait 2 ms = 0.1%, nested under PM in 3 of 4 samples (75%: not "too many")
//   TF  (0x4C)  nested under PS in 99 of 100 samples: one lock too many
//   PS  (0x4A)  "per process <&>" name that needs escaping in XML
#include "smplock/stats.hpp"

namespace smplock::stats {

Snapshot fixed_snapshot() {
  Snapshot s;
  s.start_ns = 1'000'000'000;
  s.end_ns = 2'000'000'000;
  s.cpus = 2;
  s.processors = 2;
  s.hold_timing = true;
  s.nest_sample_period = 64;

  ClassStats pm;
  pm.id = 1;
  pm.name = "PM";
  pm.level = Level::PM;
  pm.counters.acquisitions = 100'000;
  pm.counters.contended = 5'000;
  pm.counters.spins = 20'000;
  pm.counters.parks = 30;
  pm.counters.wait_ns = 40'000'000;
  pm.counters.max_wait_ns = 90'000;
  pm.counters.queued_0 = 4'000;
  pm.counters.queued_1 = 900;
  pm.counters.queued_2 = 90;
  pm.counters.queued_3plus = 10;
  pm.counters.hold_ns = 300'000'000;
  pm.counters.hold_samples = 100'000;
  pm.counters.max_hold_ns = 50'000;
  pm.counters.irq_deferred = 12;
  pm.counters.irq_delay_ns = 34'000;
  pm.counters.nest_samples = 1'563;
  pm.call_sites = {CallSite{0x401234, 4'000, "disk_read(Cache&)", "/src/pound/disk.cpp", 88},
                   CallSite{0x405678, 900, "", "", 0},
                   CallSite{0x409abc, 50, "std::thread::_State_impl<std::tuple<run(int)::{lambda()#1}> >::_M_run()",
                            "/src/pound/main.cpp", 12},
                   CallSite{0x40aaaa, 10, "operator<<(Log&, int)", "", 0}};
  pm.other_sites = 100;

  ClassStats cp;
  cp.id = 2;
  cp.name = "CP";
  cp.level = Level::CP;
  cp.counters.acquisitions = 256;
  cp.counters.contended = 10;
  cp.counters.wait_ns = 2'000'000;
  cp.counters.max_wait_ns = 400'000;
  cp.counters.queued_0 = 10;
  cp.counters.nest_samples = 4;
  cp.counters.nest_nested = 4;
  cp.parents = {Parent{"PM", Level::PM, 3}, Parent{"VL", Level::VL, 1}};

  ClassStats tf;
  tf.id = 3;
  tf.name = "TF";
  tf.level = Level::TF;
  tf.counters.acquisitions = 6'400;
  tf.counters.nest_samples = 100;
  tf.counters.nest_nested = 100;
  tf.parents = {Parent{"per process <&>", Level::PS, 99}, Parent{"PM", Level::PM, 1}};

  ClassStats ps;
  ps.id = 4;
  ps.name = "per process <&>";
  ps.level = Level::PS;
  ps.counters.acquisitions = 7'000;
  ps.counters.contended = 1;
  ps.counters.wait_ns = 1'000;
  ps.counters.max_wait_ns = 1'000;
  ps.counters.queued_1 = 1;

  ClassStats idle;
  idle.id = 5;
  idle.name = "idle";
  idle.level = Level::QU;

  s.classes = {pm, cp, tf, ps, idle};
  s.levels = by_level(s.classes);
  return s;
}

}  // namespace smplock::stats
