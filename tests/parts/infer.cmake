# tests/parts/infer.cmake: `smplock levels --infer` (issues 12 and 13, the analysis side).
# infer_unit: the analysis on small hand-written traces, one planted pattern per test.
# infer_header: the header generated from tests/infer/bank.json at build time, compiled and used.
# infer_cli: the command on bank.json (every output, "-" for stdout, bad input exits 2).
# infer_render: the SVG drawn by headless Chromium (skipped when chromium is not installed).
find_package(nlohmann_json 3 CONFIG REQUIRED)
smplock_test(infer_unit SOURCES unit/infer_test.cpp LIBS smplock::infer nlohmann_json::nlohmann_json LABELS unit)

smplock_test(infer_render SOURCES unit/infer_render_test.cpp LIBS smplock::infer LABELS unit)
target_compile_definitions(infer_render PRIVATE SMPLOCK_INFER_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/infer")

if(TARGET smplock-cli)
  set(infer_header ${CMAKE_CURRENT_BINARY_DIR}/infer_generated/infer_bank_levels.hpp)
  add_custom_command(OUTPUT ${infer_header}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/infer_generated
    COMMAND smplock-cli levels --infer ${CMAKE_CURRENT_SOURCE_DIR}/infer/bank.json --header ${infer_header}
    DEPENDS smplock-cli ${CMAKE_CURRENT_SOURCE_DIR}/infer/bank.json
    COMMENT "smplock levels --infer bank.json --header")
  smplock_test(infer_header SOURCES unit/infer_header_test.cpp ${infer_header} LABELS unit)
  target_include_directories(infer_header PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/infer_generated)

  add_test(NAME infer_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/infer/cli_test.sh $<TARGET_FILE:smplock-cli>
           ${CMAKE_CURRENT_SOURCE_DIR}/infer ${CMAKE_CURRENT_BINARY_DIR}/infer_cli)
  set_tests_properties(infer_cli PROPERTIES LABELS "unit;cli" TIMEOUT 120)
endif()

# infer_e2e: `smplock record` then `smplock levels --infer` on the record helper's planted programs
# (tests/record/), each with the answer it must give (tests/infer/e2e_test.py). Built here under
# names of their own, so this test does not depend on how tests/parts/record.cmake names them.
# Skipped (exit 77) while `smplock record` or its interposer is missing; not in sanitizer builds
# (a preloaded interposer and a sanitizer runtime do not mix).
if(TARGET smplock-cli AND TARGET smplock_record AND SMPLOCK_SANITIZE STREQUAL "")
  set(infer_rec_programs abba_time abba_one_thread cycles gated trylock_reverse rwlocks heap100 remade recursive
      condwait threads300 fork_held cxx_locks)
  set(infer_rec_targets)
  foreach(name IN LISTS infer_rec_programs)
    set(src ${CMAKE_CURRENT_SOURCE_DIR}/record/${name}.c)
    if(NOT EXISTS ${src})
      set(src ${CMAKE_CURRENT_SOURCE_DIR}/record/${name}.cpp)
    endif()
    if(EXISTS ${src})
      add_executable(infer_rec_${name} ${src})
      target_link_libraries(infer_rec_${name} PRIVATE Threads::Threads)
      target_compile_options(infer_rec_${name} PRIVATE -g -O1)
      list(APPEND infer_rec_targets infer_rec_${name})
    endif()
  endforeach()
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND AND infer_rec_targets)
    add_test(NAME infer_e2e COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/infer/e2e_test.py
             $<TARGET_FILE:smplock-cli> ${CMAKE_CURRENT_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/infer_e2e)
    set_tests_properties(infer_e2e PROPERTIES LABELS "record" TIMEOUT 600 SKIP_RETURN_CODE 77
                         ENVIRONMENT "SMPLOCK_RECORD_LIB=$<TARGET_FILE:smplock_record>")
  endif()
endif()
