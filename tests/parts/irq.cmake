# tests/parts/irq.cmake: interrupts, softints and lowipl (issue 3).
# unit_irq: each behaviour of DESIGN §4 on one CPU and across CPUs (the signal reaching a CPU at
# Null, at HI, blocked in read() and poll()). unit_irq_signal: a program that chooses its own
# interrupt signal. death_irq: R1 inside a handler and every misuse that crashes. stress_irq: the
# storm (exact counts, levels checked in every handler). stress_irq_nesting: the signal handler
# nests only inside the windows the delivery loop opens, and no deeper than the levels allow.
smplock_test(unit_irq SOURCES unit/irq_test.cpp LABELS unit irq)
smplock_test(unit_irq_signal SOURCES unit/irq_signal_test.cpp LABELS unit irq)
smplock_test(death_irq SOURCES death/irq_death_test.cpp LABELS death irq)
smplock_test(stress_irq SOURCES stress/irq_storm_test.cpp LABELS irq STRESS)
smplock_test(stress_irq_nesting SOURCES stress/irq_nesting_test.cpp LABELS irq STRESS)
