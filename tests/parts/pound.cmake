# tests/parts/pound.cmake: the pound workload (issues 6 and 14). pound_unit runs every step's lock
# set briefly on real threads and checks the model's invariants at the end, checks the lock-set
# tables and what each step split, the story's figures, verdicts, screen, JSON and SVG on fixed
# figures (the SVG drawn by headless Chromium, skipped without it), and runs the built
# `smplock pound` for its exit codes, its screen and JSON, and `smplock report` reading it back.
if(TARGET smplock_pound)
  smplock_test(pound_unit SOURCES unit/pound_test.cpp LIBS smplock::pound LABELS unit pound)
  if(TARGET smplock-cli)
    target_compile_definitions(pound_unit PRIVATE SMPLOCK_CLI="$<TARGET_FILE:smplock-cli>")
    add_dependencies(pound_unit smplock-cli)
  endif()
endif()
