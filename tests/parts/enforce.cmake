# tests/parts/enforce.cmake: `smplock enforce` (issue 13), end to end (tests/enforce/check.py): a
# program's safe half recorded, a level table learned from it with `levels --infer --table`, then the
# program under enforce: the safe half unchanged, each unsafe half aborted by SIGABRT with a report
# naming both classes (or, with --warn, reported once and run to its end). A real program from a
# Debian package (sysbench, skipped with 77 when missing) recorded, learned and enforced: output
# unchanged, no violation. Not in sanitizer builds (no interposer there).
find_program(SMPLOCK_PYTHON3 python3)
if(SMPLOCK_SANITIZE STREQUAL "" AND SMPLOCK_PYTHON3 AND TARGET smplock-cli AND TARGET smplock_record)
  set(SMPLOCK_ENFORCE_WORK ${CMAKE_CURRENT_BINARY_DIR}/enforce)
  add_executable(enforce_order enforce/order.c)
  target_link_libraries(enforce_order PRIVATE Threads::Threads)
  # Debug info for the class names the test looks for (make_account:27).
  target_compile_options(enforce_order PRIVATE -g)
  add_test(NAME enforce_planted
           COMMAND ${SMPLOCK_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/enforce/check.py --smplock $<TARGET_FILE:smplock-cli>
                   --work ${SMPLOCK_ENFORCE_WORK} --name order -- $<TARGET_FILE:enforce_order>)
  add_test(NAME enforce_sysbench
           COMMAND ${SMPLOCK_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/enforce/check.py --smplock $<TARGET_FILE:smplock-cli>
                   --work ${SMPLOCK_ENFORCE_WORK} --name sysbench --real --compare sysbench --
                   sysbench mutex --mutex-num=64 --mutex-locks=2000 --mutex-loops=100 --threads=4 run)
  add_test(NAME enforce_python_sqlite
           COMMAND ${SMPLOCK_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/enforce/check.py --smplock $<TARGET_FILE:smplock-cli>
                   --work ${SMPLOCK_ENFORCE_WORK} --name python_sqlite --real --
                   /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/record/sqlite_threads.py)
  set_tests_properties(enforce_planted enforce_sysbench enforce_python_sqlite PROPERTIES LABELS enforce TIMEOUT 300
                       SKIP_RETURN_CODE 77)
  # tests/record's planted programs (built by tests/parts/record.cmake), each held to the table of
  # its own run: every lock kind and class origin placed again (std::mutex first use, heap blocks' allocation sites, init,
  # recursive, rwlock, C11, a forked child, 300 threads). Those with a cycle keep its classes unleveled.
  foreach(prog heap100 recursive condwait cxx_locks c11_mtx rwlocks remade fork_held threads300 trylock_reverse
               abba_time heap_classes)
    set(allow)
    if(prog MATCHES "^(cxx_locks|rwlocks|abba_time)$")
      set(allow --allow-unknown)
    endif()
    add_test(NAME enforce_record_${prog}
             COMMAND ${SMPLOCK_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/enforce/check.py --smplock $<TARGET_FILE:smplock-cli>
                     --work ${SMPLOCK_ENFORCE_WORK} --name record_${prog} --real ${allow} -- $<TARGET_FILE:record_${prog}>)
    set_tests_properties(enforce_record_${prog} PROPERTIES LABELS enforce TIMEOUT 300 SKIP_RETURN_CODE 77)
  endforeach()
endif()
