# tests/parts/bench.cmake: the peer stress test runs every benchmark adapter (ours included) under
# real threads and checks exact counts, so a lock that is wrong is seen as wrong before it is timed.
include(${PROJECT_SOURCE_DIR}/bench/harness/adapters.cmake)
smplock_test(stress_peer_locks SOURCES stress/peer_locks_test.cpp LIBS smplock_bench_harness LABELS bench STRESS)
