# bench/parts/stats.cmake: the cost of the statistics (issue 4), counters on against off.
# "Off" is the whole library rebuilt with SMPLOCK_NO_COUNTERS (a benchmark-only switch: no per-CPU
# counter, no nesting sample, no contended-path accounting), so the two programs differ in nothing
# else. ctest runs both briefly (label bench-smoke) so they never rot.
get_target_property(SMPLOCK_STATS_SOURCES smplock SOURCES)
set(SMPLOCK_STATS_OFF_SOURCES)
foreach(src IN LISTS SMPLOCK_STATS_SOURCES)
  if(IS_ABSOLUTE "${src}")
    list(APPEND SMPLOCK_STATS_OFF_SOURCES "${src}")
  else()
    list(APPEND SMPLOCK_STATS_OFF_SOURCES "${PROJECT_SOURCE_DIR}/${src}")
  endif()
endforeach()
add_library(smplock_nocounters STATIC EXCLUDE_FROM_ALL ${SMPLOCK_STATS_OFF_SOURCES})
target_include_directories(smplock_nocounters PUBLIC $<TARGET_PROPERTY:smplock,INCLUDE_DIRECTORIES>)
target_compile_definitions(smplock_nocounters PUBLIC $<TARGET_PROPERTY:smplock,COMPILE_DEFINITIONS>
                           SMPLOCK_NO_COUNTERS=1)
target_compile_options(smplock_nocounters PRIVATE $<TARGET_PROPERTY:smplock,COMPILE_OPTIONS>)
target_link_libraries(smplock_nocounters PUBLIC $<TARGET_PROPERTY:smplock,LINK_LIBRARIES>)

add_executable(bench_stats ${CMAKE_CURRENT_SOURCE_DIR}/stats_bench.cpp)
target_link_libraries(bench_stats PRIVATE smplock::smplock benchmark::benchmark)
add_executable(bench_stats_off ${CMAKE_CURRENT_SOURCE_DIR}/stats_bench.cpp)
target_link_libraries(bench_stats_off PRIVATE smplock_nocounters benchmark::benchmark)
foreach(prog bench_stats bench_stats_off)
  target_compile_options(${prog} PRIVATE -Wall -Wextra)
endforeach()

if(SMPLOCK_BUILD_TESTS)
  add_test(NAME bench_smoke_stats COMMAND bench_stats --benchmark_min_time=0.01)
  add_test(NAME bench_smoke_stats_off COMMAND bench_stats_off --benchmark_min_time=0.01)
  set_tests_properties(bench_smoke_stats bench_smoke_stats_off
                       PROPERTIES LABELS bench-smoke TIMEOUT 120 FAIL_REGULAR_EXPRESSION "ERROR OCCURRED")
endif()

# Exact instruction counts per uncontended pair under callgrind, counters on and off.
add_executable(bench_stats_callgrind ${CMAKE_CURRENT_SOURCE_DIR}/stats_callgrind.cpp)
target_link_libraries(bench_stats_callgrind PRIVATE smplock::smplock)
add_executable(bench_stats_callgrind_off ${CMAKE_CURRENT_SOURCE_DIR}/stats_callgrind.cpp)
target_link_libraries(bench_stats_callgrind_off PRIVATE smplock_nocounters)
