# bench/parts/alloc.cmake: ctest's smoke run of the mimalloc-bench harness (issue 16; bench/alloc/build.sh,
# run.sh, table.py). That suite is not in this repository and tests download nothing, so a stand-in
# program of ours (bench/alloc/smoke/standin.cpp) is run under the suite's program names through the
# real run.sh, table.py and run.sh --check (bench/alloc/smoke/smoke.sh checks what each produced).
# The bad-input cases check that build.sh and run.sh stop with exit status 2 and say why.
find_package(Threads REQUIRED)
add_executable(bench_alloc_standin ${CMAKE_CURRENT_SOURCE_DIR}/alloc/smoke/standin.cpp)
target_link_libraries(bench_alloc_standin PRIVATE Threads::Threads)
target_compile_options(bench_alloc_standin PRIVATE -Wall -Wextra)

if(SMPLOCK_BUILD_TESTS)
  set(alloc_dir ${CMAKE_CURRENT_SOURCE_DIR}/alloc)
  find_package(Python3 COMPONENTS Interpreter)
  # The shim is preloaded into an uninstrumented program, which a sanitizer build's shim cannot be.
  if(TARGET smplock_malloc AND SMPLOCK_SANITIZE STREQUAL "" AND Python3_Interpreter_FOUND
     AND EXISTS /usr/bin/time)
    # Every allocator on this machine (Debian's absent ones skipped, and said so).
    add_test(NAME bench_smoke_alloc
             COMMAND ${CMAKE_COMMAND} -E env PYTHON=${Python3_EXECUTABLE}
                     ${alloc_dir}/smoke/smoke.sh $<TARGET_FILE:bench_alloc_standin>
                     $<TARGET_FILE:smplock_malloc> ${CMAKE_CURRENT_BINARY_DIR}/alloc_smoke)
    # As on a machine without Debian's allocators: only glibc and ours run.
    add_test(NAME bench_smoke_alloc_skip
             COMMAND ${CMAKE_COMMAND} -E env PYTHON=${Python3_EXECUTABLE}
                     ALLOC_LIBDIR=${CMAKE_CURRENT_BINARY_DIR}/alloc_smoke_no_libs "EXPECT_ALLOCS=glibc smplock"
                     ${alloc_dir}/smoke/smoke.sh $<TARGET_FILE:bench_alloc_standin>
                     $<TARGET_FILE:smplock_malloc> ${CMAKE_CURRENT_BINARY_DIR}/alloc_smoke_skip)
    set_tests_properties(bench_smoke_alloc bench_smoke_alloc_skip PROPERTIES LABELS bench-smoke TIMEOUT 120)
  endif()

  # Bad input: each case names the message it expects. bench/alloc itself serves as a bin dir holding
  # none of the suite's programs, and run.sh as "some file that exists" where a shim must exist.
  set(expect ${alloc_dir}/smoke/expect_exit.sh 2)
  set(bad ${CMAKE_CURRENT_BINARY_DIR}/alloc_bad_input)
  add_test(NAME bench_smoke_alloc_build_usage COMMAND ${expect} "^build.sh: usage: " ${alloc_dir}/build.sh)
  add_test(NAME bench_smoke_alloc_build_no_checkout
           COMMAND ${expect} "^build.sh: .*/no-such-checkout: not a mimalloc-bench checkout"
                   ${alloc_dir}/build.sh ${bad}/no-such-checkout ${bad}/bin)
  add_test(NAME bench_smoke_alloc_run_usage COMMAND ${expect} "^run.sh: usage: " ${alloc_dir}/run.sh ${alloc_dir})
  add_test(NAME bench_smoke_alloc_run_no_bin_dir
           COMMAND ${expect} "^run.sh: bin dir .*/no-such-bin: not a directory"
                   ${alloc_dir}/run.sh ${bad}/no-such-bin ${bad}/res ${alloc_dir}/run.sh 1)
  add_test(NAME bench_smoke_alloc_run_no_shim
           COMMAND ${expect} "^run.sh: shim .*/no-such-shim.so: no such file"
                   ${alloc_dir}/run.sh ${alloc_dir} ${bad}/res ${bad}/no-such-shim.so 1)
  add_test(NAME bench_smoke_alloc_run_bad_rounds
           COMMAND ${expect} "^run.sh: rounds '3x': not a positive whole number"
                   ${alloc_dir}/run.sh ${alloc_dir} ${bad}/res ${alloc_dir}/run.sh 3x)
  add_test(NAME bench_smoke_alloc_run_zero_rounds
           COMMAND ${expect} "^run.sh: rounds '0': not a positive whole number"
                   ${alloc_dir}/run.sh ${alloc_dir} ${bad}/res ${alloc_dir}/run.sh 0)
  add_test(NAME bench_smoke_alloc_run_unknown_program
           COMMAND ${expect} "^run.sh: unknown program 'no-such-program'"
                   ${alloc_dir}/run.sh ${alloc_dir} ${bad}/res ${alloc_dir}/run.sh 1 no-such-program)
  add_test(NAME bench_smoke_alloc_run_program_not_built
           COMMAND ${expect} "^run.sh: larson: .*/larson not built"
                   ${alloc_dir}/run.sh ${alloc_dir} ${bad}/res ${alloc_dir}/run.sh 1 larson)
  add_test(NAME bench_smoke_alloc_check_no_results
           COMMAND ${expect} "^run.sh: .*/no-such-res: not a result dir"
                   ${alloc_dir}/run.sh --check ${bad}/no-such-res)
  set_tests_properties(bench_smoke_alloc_build_usage bench_smoke_alloc_build_no_checkout
                       bench_smoke_alloc_run_usage bench_smoke_alloc_run_no_bin_dir bench_smoke_alloc_run_no_shim
                       bench_smoke_alloc_run_bad_rounds bench_smoke_alloc_run_zero_rounds
                       bench_smoke_alloc_run_unknown_program bench_smoke_alloc_run_program_not_built
                       bench_smoke_alloc_check_no_results
                       PROPERTIES LABELS bench-smoke TIMEOUT 30)
endif()
