# tests/parts/record.cmake: `smplock record` (issue 12). Each test runs a program bare and under
# `smplock record`, compares output and exit status, and checks the trace against the program's
# answer (tests/record/check.py). Planted programs (tests/record/*.c, *.cpp) plant one situation
# each; real programs from Debian packages (sysbench, pigz, python3 with sqlite3) are skipped when
# not installed (scripts/deps.sh --test installs them). The traces stay in the build tree,
# tests/record/<name>.trace.json, for the `smplock levels --infer` tests (fixture record_traces).
# Not in sanitizer builds: a sanitizer runtime must come first in the process and intercepts the
# same pthread calls.
find_program(SMPLOCK_PYTHON3 python3)
if(SMPLOCK_SANITIZE STREQUAL "" AND SMPLOCK_PYTHON3 AND TARGET smplock-cli AND TARGET smplock_record)
  set(SMPLOCK_RECORD_TRACES ${CMAKE_CURRENT_BINARY_DIR}/record)
  file(MAKE_DIRECTORY ${SMPLOCK_RECORD_TRACES})

  # record_test(NAME [COMPARE exact|sysbench] [INPUT bytes] [RECORD_ARGS opt...] COMMAND program args...)
  function(record_test name)
    cmake_parse_arguments(R "" "COMPARE;INPUT" "COMMAND;RECORD_ARGS" ${ARGN})
    set(extra)
    foreach(arg IN LISTS R_RECORD_ARGS)
      list(APPEND extra --record-arg=${arg})
    endforeach()
    if(R_COMPARE)
      list(APPEND extra --compare ${R_COMPARE})
    endif()
    if(R_INPUT)
      list(APPEND extra --input-bytes ${R_INPUT})
    endif()
    add_test(NAME record_${name}
             COMMAND ${SMPLOCK_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/record/check.py
                     --smplock $<TARGET_FILE:smplock-cli> --trace ${SMPLOCK_RECORD_TRACES}/${name}.trace.json
                     --name ${name} ${extra} -- ${R_COMMAND})
    set_tests_properties(record_${name} PROPERTIES LABELS record TIMEOUT 300 SKIP_RETURN_CODE 77
                         FIXTURES_SETUP record_traces)
  endfunction()

  foreach(prog abba_time abba_one_thread cycles gated trylock_reverse rwlocks recursive condwait remade heap100
               fork_held threads300 c11_mtx killed contended fatal_segv fatal_abort own_handler exec_self
               fatal_storm fork_killed stack_overflow)
    add_executable(record_${prog} record/${prog}.c)
    target_link_libraries(record_${prog} PRIVATE Threads::Threads)
    record_test(${prog} COMMAND $<TARGET_FILE:record_${prog}>)
  endforeach()
  # A second fatal signal while the handler's write is stuck (its file a FIFO) still kills.
  add_test(NAME record_second_signal
           COMMAND ${SMPLOCK_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/record/second_signal.py
                   $<TARGET_FILE:smplock_record> $<TARGET_FILE:record_killed>)
  set_tests_properties(record_second_signal PROPERTIES LABELS record TIMEOUT 300)
  add_executable(record_wrapper record/wrapper.c)
  target_link_libraries(record_wrapper PRIVATE Threads::Threads)
  record_test(wrapper RECORD_ARGS "--wrapper=^my_(un)?lock$" COMMAND $<TARGET_FILE:record_wrapper>)
  add_executable(record_cxx_locks record/cxx_locks.cpp)
  target_link_libraries(record_cxx_locks PRIVATE Threads::Threads)
  record_test(cxx_locks COMMAND $<TARGET_FILE:record_cxx_locks>)
  add_executable(record_heap_classes record/heap_classes.cpp)
  target_link_libraries(record_heap_classes PRIVATE Threads::Threads)
  record_test(heap_classes COMMAND $<TARGET_FILE:record_heap_classes>)
  add_library(record_plugin SHARED record/plugin.c)
  set_target_properties(record_plugin PROPERTIES OUTPUT_NAME plugin)
  add_executable(record_dlopen_cycle record/dlopen_cycle.c)
  target_link_libraries(record_dlopen_cycle PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
  add_dependencies(record_dlopen_cycle record_plugin)
  record_test(dlopen_cycle COMMAND $<TARGET_FILE:record_dlopen_cycle> $<TARGET_FILE:record_plugin>)

  # Real programs nobody here wrote, a few seconds each.
  record_test(sysbench COMPARE sysbench
              COMMAND sysbench mutex --mutex-num=64 --mutex-locks=2000 --mutex-loops=100 --threads=4 run)
  record_test(pigz INPUT 8000000 COMMAND pigz -p 4 -c)
  record_test(python_sqlite COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/record/sqlite_threads.py)
endif()
