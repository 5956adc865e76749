# The pound workload (issue 6): a small kernel run under the three lock sets, as a library of its
# own (smplock::pound) so the command line and the tests share it. Not installed: it is the
# command's workload, not an interface (docs/pound.md).
find_package(fmt CONFIG REQUIRED)
find_package(nlohmann_json 3 CONFIG REQUIRED)
# The kernel's sources are a small kernel source tree (pound/kernel/objects.hpp lists them).
add_library(smplock_pound
  ${PROJECT_SOURCE_DIR}/pound/lockset.cpp
  ${PROJECT_SOURCE_DIR}/pound/pool.cpp
  ${PROJECT_SOURCE_DIR}/pound/run.cpp
  ${PROJECT_SOURCE_DIR}/pound/story.cpp
  ${PROJECT_SOURCE_DIR}/pound/story_text.cpp
  ${PROJECT_SOURCE_DIR}/pound/story_json.cpp
  ${PROJECT_SOURCE_DIR}/pound/story_svg.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/init.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/cpu.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/sched.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/net.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/disk.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/memory.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/proc.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/intr.cpp
  ${PROJECT_SOURCE_DIR}/pound/kernel/check.cpp)
add_library(smplock::pound ALIAS smplock_pound)
target_include_directories(smplock_pound
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/pound/include>
  PRIVATE ${PROJECT_SOURCE_DIR}/pound)
# The SVG helpers the pictures share (smplock/detail/svg_util.hpp, beside the report's header):
# header-only and never installed, so this needs no link to smplock::report.
target_include_directories(smplock_pound PRIVATE ${PROJECT_SOURCE_DIR}/report/include)
target_compile_options(smplock_pound PRIVATE -Wall -Wextra -Wpedantic)
target_link_libraries(smplock_pound PUBLIC smplock::smplock PRIVATE fmt::fmt nlohmann_json::nlohmann_json)
# ozone's pool is smplock::npp when the pool part is in the tree; without it ozone falls back to
# the locked pool and says so in its figures.
if(EXISTS ${PROJECT_SOURCE_DIR}/cmake/parts/npp.cmake)
  target_compile_definitions(smplock_pound PRIVATE SMPLOCK_POUND_HAVE_NPP=1)
else()
  target_compile_definitions(smplock_pound PRIVATE SMPLOCK_POUND_HAVE_NPP=0)
endif()
