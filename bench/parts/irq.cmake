# bench/parts/irq.cmake: interrupt figures (issue 3): lazy masking against pthread_sigmask, the
# deferral round trip, and release-to-handler latency on one CPU and across CPUs.
# bench/results/irq.md has the figures and the command that made them.
add_executable(bench_irq ${CMAKE_CURRENT_SOURCE_DIR}/irq_bench.cpp)
target_link_libraries(bench_irq PRIVATE smplock::smplock benchmark::benchmark)
target_compile_options(bench_irq PRIVATE -Wall -Wextra)

if(SMPLOCK_BUILD_TESTS)
  # Every cell briefly, so the program never rots (the deferral cells also check no interrupt is lost).
  add_test(NAME bench_smoke_irq COMMAND bench_irq --benchmark_min_time=0.002)
  set_tests_properties(bench_smoke_irq PROPERTIES LABELS bench-smoke TIMEOUT 120
                       FAIL_REGULAR_EXPRESSION "ERROR OCCURRED|lost")
endif()
