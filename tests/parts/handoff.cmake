# tests/parts/handoff.cmake: the lock's bounded pass-over (a hungry waiter is handed the word):
# the deterministic hand-off, and a crowd that checks mutual exclusion and lost wake-ups with it.
smplock_test(unit_handoff SOURCES unit/lock_handoff_test.cpp LABELS unit)
smplock_test(stress_handoff SOURCES stress/handoff_stress_test.cpp LABELS core concurrency STRESS)
