# tests/parts/pound.cmake: the pound workload (issue 6). pound_unit runs every lock set briefly on
# real threads and checks the model's invariants at the end, checks the lock-set tables, and runs
# the built `smplock pound` for its exit codes and JSON.
if(TARGET smplock_pound)
  smplock_test(pound_unit SOURCES unit/pound_test.cpp LIBS smplock::pound LABELS unit pound)
  if(TARGET smplock-cli)
    target_compile_definitions(pound_unit PRIVATE SMPLOCK_CLI="$<TARGET_FILE:smplock-cli>")
    add_dependencies(pound_unit smplock-cli)
  endif()
endif()
