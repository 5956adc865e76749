# tests/parts/report_trace.cmake: `smplock report` on a `smplock record` trace (issue 12).
# report_trace: a hand-written trace (tests/report/small.trace.json) read into the report: the
# table's figures, the stats JSON round trip, the SVG, bad traces refused, and the command itself.
# report_record_contended: end to end, record a planted program and report its trace (not in
# sanitizer builds, like the record tests).
find_package(nlohmann_json 3 CONFIG REQUIRED)
smplock_test(report_trace SOURCES unit/report_trace_test.cpp LIBS smplock::report LABELS unit)
target_compile_definitions(report_trace PRIVATE SMPLOCK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                           $<$<TARGET_EXISTS:smplock-cli>:SMPLOCK_CLI="$<TARGET_FILE:smplock-cli>">)
if(TARGET smplock-cli)
  add_dependencies(report_trace smplock-cli)
endif()

if(SMPLOCK_SANITIZE STREQUAL "" AND TARGET smplock-cli AND TARGET smplock_record AND TARGET record_contended)
  add_test(NAME report_record_contended
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/report/record_then_report.sh $<TARGET_FILE:smplock-cli>
                   ${CMAKE_CURRENT_BINARY_DIR}/report_record $<TARGET_FILE:record_contended>)
  set_tests_properties(report_record_contended PROPERTIES LABELS record TIMEOUT 120)
endif()

# Bad input: exit status 2 and what is wrong (tests/cli/expect.sh).
if(TARGET smplock-cli)
  foreach(bad "version2.trace.json|version: trace version 2 is not supported \\(this build reads version 1\\)"
              "neither.json|is not a smplock report: schema: expected .*smplock-trace")
    string(REPLACE "|" ";" bad "${bad}")
    list(GET bad 0 file)
    list(GET bad 1 regex)
    string(REGEX REPLACE "[.].*" "" name "${file}")
    add_test(NAME cli_report_trace_${name}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect.sh 2 "${regex}" $<TARGET_FILE:smplock-cli> report
                     ${CMAKE_CURRENT_SOURCE_DIR}/report/${file})
    set_tests_properties(cli_report_trace_${name} PROPERTIES LABELS "unit;cli" TIMEOUT 60)
  endforeach()
endif()
