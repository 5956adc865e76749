# bench/parts/npp.cmake: the non-paged pool beside Debian's allocators (issue 5). The peers are
# opened at run time (dlopen), so the program builds without them and skips any that are missing.
add_executable(bench_npp ${CMAKE_CURRENT_SOURCE_DIR}/npp_bench.cpp)
target_link_libraries(bench_npp PRIVATE smplock::smplock benchmark::benchmark ${CMAKE_DL_LIBS})
target_compile_options(bench_npp PRIVATE -Wall -Wextra)
if(SMPLOCK_BUILD_TESTS)
  add_test(NAME bench_smoke_npp COMMAND bench_npp --benchmark_min_time=0.01
           --benchmark_filter=pairs/.*/64|batch_lifo/.*/1000|prodcons|irq_latency)
  set_tests_properties(bench_smoke_npp PROPERTIES LABELS bench-smoke TIMEOUT 300
                       FAIL_REGULAR_EXPRESSION "ERROR OCCURRED")
endif()

# N pairs through one allocator, for instruction counts under callgrind.
add_executable(bench_npp_callgrind ${CMAKE_CURRENT_SOURCE_DIR}/npp_callgrind.cpp)
target_link_libraries(bench_npp_callgrind PRIVATE smplock::smplock ${CMAKE_DL_LIBS})
if(SMPLOCK_BUILD_TESTS)
  add_test(NAME bench_smoke_npp_callgrind COMMAND bench_npp_callgrind npp 64 1000)
  set_tests_properties(bench_smoke_npp_callgrind PROPERTIES LABELS bench-smoke)
endif()

# malloc-large's pattern (issue 16): a standalone program, run under LD_PRELOAD of each allocator
# beside /usr/bin/time (bench/results/npp.md, "Large blocks"); the smoke run is the shim's.
find_package(Threads REQUIRED)
add_executable(bench_npp_large ${CMAKE_CURRENT_SOURCE_DIR}/npp_large.cpp)
target_link_libraries(bench_npp_large PRIVATE Threads::Threads)
if(SMPLOCK_BUILD_TESTS AND TARGET smplock_malloc AND SMPLOCK_SANITIZE STREQUAL "")
  add_test(NAME bench_smoke_npp_large COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=$<TARGET_FILE:smplock_malloc>
                                              $<TARGET_FILE:bench_npp_large> 20 2 alloc)
  set_tests_properties(bench_smoke_npp_large PROPERTIES LABELS bench-smoke PASS_REGULAR_EXPRESSION "checksum")
endif()
