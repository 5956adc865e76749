# Levels learned from traces (issues 12 and 13, `smplock levels --infer`): reading and merging
# `smplock record` traces, the cycles and their verdicts, the proposed level table, and its forms
# (text, JSON, level table, SVG, C++ header). A library of its own, smplock::infer; plain data in,
# text out, so the tests drive it without running any program.
find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)

add_library(smplock_infer
  ${PROJECT_SOURCE_DIR}/infer/trace.cpp
  ${PROJECT_SOURCE_DIR}/infer/merge.cpp
  ${PROJECT_SOURCE_DIR}/infer/cycles.cpp
  ${PROJECT_SOURCE_DIR}/infer/levels.cpp
  ${PROJECT_SOURCE_DIR}/infer/judge.cpp
  ${PROJECT_SOURCE_DIR}/infer/analyze.cpp
  ${PROJECT_SOURCE_DIR}/infer/frame.cpp
  ${PROJECT_SOURCE_DIR}/infer/text.cpp
  ${PROJECT_SOURCE_DIR}/infer/json.cpp
  ${PROJECT_SOURCE_DIR}/infer/svg.cpp
  ${PROJECT_SOURCE_DIR}/infer/header.cpp)
add_library(smplock::infer ALIAS smplock_infer)
target_include_directories(smplock_infer PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/infer/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(smplock_infer PUBLIC cxx_std_20)
# The SVG helpers the pictures share (smplock/detail/svg_util.hpp, beside the report's header):
# header-only and never installed, so this needs no link to smplock::report.
target_include_directories(smplock_infer PRIVATE ${PROJECT_SOURCE_DIR}/report/include)
target_compile_options(smplock_infer PRIVATE -Wall -Wextra -Wpedantic)
target_link_libraries(smplock_infer PRIVATE nlohmann_json::nlohmann_json fmt::fmt)
set_target_properties(smplock_infer PROPERTIES EXPORT_NAME infer)

# `smplock levels --infer` (tools/levels_infer.cpp) joins the command once tools/ has made it: the
# parts are read before tools/, so the link is deferred to the end of the top directory.
function(smplock_infer_join_cli)
  if(TARGET smplock-cli)
    target_sources(smplock-cli PRIVATE ${PROJECT_SOURCE_DIR}/tools/levels_infer.cpp)
    target_link_libraries(smplock-cli PRIVATE smplock::infer)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL smplock_infer_join_cli)
