# `smplock record` (issue 12) and `smplock enforce` (issue 13): libsmplock-record.so, the interposer preloaded into an unmodified
# program. Its own small runtime (src/record/), not the smplock library: no signal handlers but the
# record tool's fatal-signal trace writer (signals.cpp, only where the program left the default
# action), no CPU attach, no malloc; every symbol hidden except the interposed pthread, C11 and allocation calls.
# Not in sanitizer builds: a sanitizer runtime intercepts the same calls and must come first.
if(NOT SMPLOCK_SANITIZE STREQUAL "")
  return()
endif()
add_library(smplock_record SHARED
  ${PROJECT_SOURCE_DIR}/src/record/enforce.cpp
  ${PROJECT_SOURCE_DIR}/src/record/heap.cpp
  ${PROJECT_SOURCE_DIR}/src/record/interpose.cpp
  ${PROJECT_SOURCE_DIR}/src/record/runtime.cpp
  ${PROJECT_SOURCE_DIR}/src/record/signals.cpp
  ${PROJECT_SOURCE_DIR}/src/record/stack.cpp
  ${PROJECT_SOURCE_DIR}/src/record/trace.cpp)
target_compile_options(smplock_record PRIVATE -Wall -Wextra -fvisibility=hidden -fvisibility-inlines-hidden
                       -ftls-model=initial-exec -fno-exceptions -fno-rtti -fno-sanitize=all)
target_link_options(smplock_record PRIVATE -Wl,-z,nodelete -Wl,-Bsymbolic -fno-sanitize=all)
target_link_libraries(smplock_record PRIVATE ${CMAKE_DL_LIBS})
# C++ for atomics and templates only: nothing from libstdc++ at run time.
set_target_properties(smplock_record PROPERTIES OUTPUT_NAME smplock-record CXX_VISIBILITY_PRESET hidden
                      VISIBILITY_INLINES_HIDDEN ON LINKER_LANGUAGE C)
if(SMPLOCK_TOP_LEVEL)
  install(TARGETS smplock_record LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
