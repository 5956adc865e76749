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
