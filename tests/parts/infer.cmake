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
