# Contention statistics (issue 4): the snapshot lives in the core library (no third-party code);
# the report (text, JSON, SVG, symbolized call sites) is a library of its own, smplock::report.
target_sources(smplock PRIVATE ${PROJECT_SOURCE_DIR}/src/stats.cpp)

find_package(nlohmann_json 3 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
# elfutils' libdw names call sites' file:line; without it the report names functions only (dladdr).
find_package(PkgConfig)
if(PKG_CONFIG_FOUND)
  pkg_check_modules(SMPLOCK_LIBDW IMPORTED_TARGET libdw)
endif()

add_library(smplock_report
  ${PROJECT_SOURCE_DIR}/report/analysis.cpp
  ${PROJECT_SOURCE_DIR}/report/text.cpp
  ${PROJECT_SOURCE_DIR}/report/json.cpp
  ${PROJECT_SOURCE_DIR}/report/svg.cpp
  ${PROJECT_SOURCE_DIR}/report/trace_input.cpp
  ${PROJECT_SOURCE_DIR}/report/symbolize.cpp)
add_library(smplock::report ALIAS smplock_report)
target_include_directories(smplock_report PUBLIC
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/report/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_options(smplock_report PRIVATE -Wall -Wextra -Wpedantic)
target_link_libraries(smplock_report PUBLIC smplock::smplock
                      PRIVATE $<BUILD_INTERFACE:nlohmann_json::nlohmann_json> fmt::fmt ${CMAKE_DL_LIBS})
# (nlohmann-json is headers only: the installed archive needs nothing of it, so its link is the
# build tree's alone.)
if(SMPLOCK_LIBDW_FOUND)
  target_link_libraries(smplock_report PRIVATE PkgConfig::SMPLOCK_LIBDW)
  target_compile_definitions(smplock_report PRIVATE SMPLOCK_HAVE_LIBDW=1)
else()
  message(STATUS "smplock: libdw not found; report call sites get function names only (apt-get install libdw-dev)")
endif()
set_target_properties(smplock_report PROPERTIES EXPORT_NAME report OUTPUT_NAME smplock-report)

# Installed beside the core (find_package(smplock) then smplock::report, or pkg-config
# smplock-report), in an export of its own: a program that uses only the core needs none of the
# report's dependencies, and smplockConfig.cmake loads this export only when they are found.
if(SMPLOCK_TOP_LEVEL)
  install(TARGETS smplock_report EXPORT smplockReportTargets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/report/include/smplock/report.hpp
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/smplock)
  install(EXPORT smplockReportTargets NAMESPACE smplock:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/smplock)
  # pkg-config: a static archive names its dependencies' libraries in Libs, not Libs.private.
  set(SMPLOCK_REPORT_PC_REQUIRES "smplock fmt")
  if(SMPLOCK_LIBDW_FOUND)
    string(APPEND SMPLOCK_REPORT_PC_REQUIRES " libdw")
  endif()
  set(SMPLOCK_REPORT_PC_DL "")
  foreach(lib IN LISTS CMAKE_DL_LIBS)
    string(APPEND SMPLOCK_REPORT_PC_DL " -l${lib}")
  endforeach()
  file(RELATIVE_PATH SMPLOCK_PC_UP "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/smplock-report.pc.in ${PROJECT_BINARY_DIR}/smplock-report.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/smplock-report.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endif()
