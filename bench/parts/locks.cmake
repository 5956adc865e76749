# bench/parts/locks.cmake: ours beside the peers (issue 7). scripts/bench.sh runs the full suite;
# ctest runs each program briefly (label bench-smoke) so they never rot.
include(${PROJECT_SOURCE_DIR}/bench/harness/adapters.cmake)

add_executable(bench_locks ${CMAKE_CURRENT_SOURCE_DIR}/locks_bench.cpp)
# absl::Mutex without deadlock detection: the switch is process-wide, so it gets a program of its own.
add_executable(bench_locks_absl_nodd ${CMAKE_CURRENT_SOURCE_DIR}/locks_bench.cpp)
target_compile_definitions(bench_locks_absl_nodd PRIVATE SMPLOCK_BENCH_ABSL_NODD=1)
# N uncontended pairs of one lock, for instruction counts under callgrind.
add_executable(bench_locks_callgrind ${CMAKE_CURRENT_SOURCE_DIR}/locks_callgrind.cpp)
# The cost of a store between two locked instructions, with nothing of the library in it.
add_executable(bench_stores ${CMAKE_CURRENT_SOURCE_DIR}/stores_bench.cpp)
target_link_libraries(bench_stores PRIVATE benchmark::benchmark)
target_compile_options(bench_stores PRIVATE -Wall -Wextra)
foreach(prog bench_locks bench_locks_absl_nodd bench_locks_callgrind)
  target_link_libraries(${prog} PRIVATE smplock::smplock smplock_bench_harness benchmark::benchmark)
  target_compile_options(${prog} PRIVATE -Wall -Wextra)
  smplock_bench_ipo(${prog})
endforeach()

# Ours with the statistics compiled out (the library rebuilt with SMPLOCK_NO_COUNTERS by
# bench/parts/stats.cmake), as one more row: what the counters cost in each scenario. Defined at the
# end of this directory, once that part has made its library; skipped if it is not there.
function(smplock_bench_locks_nocounters)
  if(NOT TARGET smplock_nocounters)
    return()
  endif()
  # Not part of `all`: scripts/bench.sh builds it when it wants the row, so a problem in the
  # counters-off library never breaks the normal build (the same source is smoke-tested as bench_locks).
  add_executable(bench_locks_nocounters EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/locks_bench.cpp)
  target_compile_definitions(bench_locks_nocounters PRIVATE SMPLOCK_BENCH_NOCOUNTERS=1)
  target_link_libraries(bench_locks_nocounters PRIVATE smplock_nocounters smplock_bench_harness benchmark::benchmark)
  target_compile_options(bench_locks_nocounters PRIVATE -Wall -Wextra)
  smplock_bench_ipo(bench_locks_nocounters)
  add_executable(bench_locks_callgrind_nocounters EXCLUDE_FROM_ALL ${PROJECT_SOURCE_DIR}/bench/locks_callgrind.cpp)
  target_compile_definitions(bench_locks_callgrind_nocounters PRIVATE SMPLOCK_BENCH_NOCOUNTERS=1)
  target_link_libraries(bench_locks_callgrind_nocounters PRIVATE smplock_nocounters smplock_bench_harness)
  smplock_bench_ipo(bench_locks_callgrind_nocounters)
endfunction()
cmake_language(DEFER CALL smplock_bench_locks_nocounters)

if(SMPLOCK_BUILD_TESTS)
  # Every cell for a couple of milliseconds: checks that each program runs and every lock counts exactly.
  add_test(NAME bench_smoke_locks COMMAND bench_locks --run_ms=2 --benchmark_min_time=0.002)
  add_test(NAME bench_smoke_stores COMMAND bench_stores --benchmark_min_time=0.002)
  add_test(NAME bench_smoke_locks_absl_nodd COMMAND bench_locks_absl_nodd --run_ms=2 --benchmark_min_time=0.002)
  add_test(NAME bench_smoke_locks_callgrind COMMAND bench_locks_callgrind ours 1000 --chain)
  set_tests_properties(bench_smoke_locks bench_smoke_stores bench_smoke_locks_absl_nodd bench_smoke_locks_callgrind
                       PROPERTIES LABELS bench-smoke TIMEOUT 120 FAIL_REGULAR_EXPRESSION "ERROR OCCURRED|lost updates")
endif()
