# bench/parts/record.cmake: the Google Benchmark loop of `smplock record`'s overhead figures
# (issue 12; bench/record/gbench.sh runs it bare and under record, TSan's detector and Helgrind;
# bench/results/record.md has the figures). A plain program: not linked with smplock, so the
# interposer sees its locks exactly as it sees any program's.
add_executable(bench_record_gbench ${CMAKE_CURRENT_SOURCE_DIR}/record/gbench_locks.cpp)
target_link_libraries(bench_record_gbench PRIVATE benchmark::benchmark)
target_compile_options(bench_record_gbench PRIVATE -Wall -Wextra)

if(SMPLOCK_BUILD_TESTS)
  # Every cell briefly, bare and under the interposer, so neither rots (well under a second each).
  add_test(NAME bench_smoke_record_gbench COMMAND bench_record_gbench --benchmark_min_time=0.002)
  set_tests_properties(bench_smoke_record_gbench PROPERTIES LABELS bench-smoke TIMEOUT 120
                       FAIL_REGULAR_EXPRESSION "ERROR OCCURRED")
  if(TARGET smplock_record)
    add_test(NAME bench_smoke_record_gbench_preloaded
             COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=$<TARGET_FILE:smplock_record>
                     SMPLOCK_RECORD_OUT=${CMAKE_CURRENT_BINARY_DIR}/bench_record_gbench.raw.json
                     $<TARGET_FILE:bench_record_gbench> --benchmark_min_time=0.002)
    set_tests_properties(bench_smoke_record_gbench_preloaded PROPERTIES LABELS bench-smoke TIMEOUT 120
                         FAIL_REGULAR_EXPRESSION "ERROR OCCURRED")
  endif()
endif()
