# tests/parts/stats.cmake: contention statistics and the report (issue 4).
# stats_counters: exact counts from deterministic contention and nesting scenarios, snapshots while
# threads run. stats_report: the report from a fixed snapshot (text, JSON round trip and schema,
# SVG, docs/stats.md covering every key, the `smplock report` command). stats_render: the SVG
# drawn by headless Chromium (skipped when chromium is not installed).
smplock_test(stats_counters SOURCES unit/stats_counters_test.cpp LIBS smplock::report LABELS unit)

find_package(nlohmann_json 3 CONFIG REQUIRED)
smplock_test(stats_report SOURCES unit/stats_report_test.cpp unit/stats_fixture.cpp
             LIBS smplock::report nlohmann_json::nlohmann_json LABELS unit)
target_compile_definitions(stats_report PRIVATE SMPLOCK_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                           $<$<TARGET_EXISTS:smplock-cli>:SMPLOCK_CLI="$<TARGET_FILE:smplock-cli>">)
if(TARGET smplock-cli)
  add_dependencies(stats_report smplock-cli)
endif()

smplock_test(stats_render SOURCES unit/stats_render_test.cpp unit/stats_fixture.cpp
             LIBS smplock::report LABELS unit)
target_compile_definitions(stats_render PRIVATE SMPLOCK_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
