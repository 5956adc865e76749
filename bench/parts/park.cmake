# bench/parts/park.cmake: the park protocol under a crowd (issue 11, defect 12): N threads on one
# lock, ours against std::mutex, sleeps and the tail of the waits. Plain program, no framework.
# bench/results/locks.md has a run and the command that made it.
add_executable(bench_park ${CMAKE_CURRENT_SOURCE_DIR}/park_bench.cpp)
target_link_libraries(bench_park PRIVATE smplock::smplock)
target_compile_options(bench_park PRIVATE -Wall -Wextra)

if(SMPLOCK_BUILD_TESTS)
  add_test(NAME bench_smoke_park COMMAND bench_park --threads=4 --seconds=0.2)
  set_tests_properties(bench_smoke_park PROPERTIES LABELS bench-smoke TIMEOUT 120 FAIL_REGULAR_EXPRESSION "lost")
endif()
