// smplock/detail/counters.hpp: the statistics counters, each declared once, here. The per-CPU
// arrays, the snapshot struct, the report's columns and the JSON keys are all generated from these
// lists. Not for users: read the counters through smplock/stats.hpp.
#pragma once

// The counters a CPU keeps per lock class, written only by that CPU (relaxed load + store, no
// read-modify-write), read by statistics snapshots from any thread. Each list entry becomes an
// array indexed by class id.  X(name, json_key, description)
#define SMPLOCK_CPU_CLASS_COUNTERS(X)                                                     \
  X(acquisitions, "acquisitions", "times a lock of the class was taken")                  \
  X(hold_ns, "hold_ns", "total time held, while hold timing is on")                        \
  X(hold_samples, "hold_samples", "acquisitions whose hold time was measured")             \
  X(max_hold_ns, "max_hold_ns", "longest single hold measured")

// Counters a class keeps in shared memory, updated with atomic read-modify-writes on contended
// paths only (the uncontended path never touches them).  X(name, json_key, description)
#define SMPLOCK_SHARED_CLASS_COUNTERS(X)                                                        \
  X(contended, "contended", "acquisitions that found the lock busy")                            \
  X(spins, "spins", "spin-wait iterations (each one or more pause instructions)")               \
  X(parks, "parks", "times a waiter slept in the kernel")                                       \
  X(wait_ns, "wait_ns", "total time spent waiting for the lock")                                \
  X(max_wait_ns, "max_wait_ns", "longest single wait")                                          \
  X(queued_0, "queued_0", "contended acquisitions that found no other waiter")                  \
  X(queued_1, "queued_1", "contended acquisitions that found 1 other waiter")                   \
  X(queued_2, "queued_2", "contended acquisitions that found 2 other waiters")                  \
  X(queued_3plus, "queued_3plus", "contended acquisitions that found 3 or more waiters")        \
  X(irq_deferred, "irq_deferred", "interrupts held back while a lock of the class was the top") \
  X(irq_delay_ns, "irq_delay_ns", "total time those interrupts waited")
