# tests/parts/embed.cmake: smplock inside a program not written for it (issue 11) and what the
# library adds to a program's size (issue 15, part 5).
# unit_embed: any number of threads, fork(), exit while an IRQ handler runs, a raise left for a
# freed index. embed_signals_untouched: a program using locks and the pool keeps its own SIGURG
# disposition and masks (also under the drop-in allocator). death_forged_release: R5 with nothing
# held. up_attach_race: the uniprocessor build's second-CPU check is atomic. footprint_*: the
# library's static data stays in kilobytes.
smplock_test(unit_embed SOURCES unit/embed_test.cpp LABELS unit embed)
smplock_test(death_forged_release SOURCES death/forged_release_test.cpp LABELS death embed)

if(NOT SMPLOCK_UNIPROCESSOR)
  add_executable(embed_signals_untouched embed/signals_untouched.cpp)
  target_link_libraries(embed_signals_untouched PRIVATE smplock::smplock Threads::Threads)
  add_test(NAME embed_signals_untouched COMMAND embed_signals_untouched)
  set_tests_properties(embed_signals_untouched PROPERTIES LABELS "embed" TIMEOUT 120
                       PASS_REGULAR_EXPRESSION "signals_untouched: ok")
  if(SMPLOCK_SANITIZE STREQUAL "" AND TARGET smplock_malloc)
    add_test(NAME embed_signals_untouched_preload
             COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=$<TARGET_FILE:smplock_malloc>
                     $<TARGET_FILE:embed_signals_untouched>)
    set_tests_properties(embed_signals_untouched_preload PROPERTIES LABELS "embed;preload" TIMEOUT 120
                         PASS_REGULAR_EXPRESSION "signals_untouched: ok")
  endif()
else()
  smplock_test(up_attach_race SOURCES death/up_attach_race_test.cpp LABELS death embed)
endif()

# Footprint: the per-CPU records are mapped when a CPU attaches, so neither the drop-in allocator
# nor a one-line program linked with libsmplock.a carries them in its file (they were 29.5 MB of
# .data). The bound, 1 MiB of file and 256 KiB of .data, is generous for what is left.
if(SMPLOCK_SANITIZE STREQUAL "")
  add_executable(embed_tiny embed/tiny.cpp)
  target_link_libraries(embed_tiny PRIVATE smplock::smplock)
  find_program(SMPLOCK_SIZE_TOOL size)
  if(SMPLOCK_SIZE_TOOL)
    set(_files $<TARGET_FILE:embed_tiny>)
    if(TARGET smplock_malloc)
      list(APPEND _files $<TARGET_FILE:smplock_malloc>)
    endif()
    add_test(NAME footprint_files
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/embed/footprint.sh ${SMPLOCK_SIZE_TOOL} ${_files})
    set_tests_properties(footprint_files PROPERTIES LABELS "embed" PASS_REGULAR_EXPRESSION "footprint: ok")
  endif()
endif()
