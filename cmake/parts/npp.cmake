# Non-paged pool (issue 5): the pool in the core library, and libsmplock-malloc.so, a drop-in
# malloc for LD_PRELOAD built on it.
target_sources(smplock PRIVATE
  ${PROJECT_SOURCE_DIR}/src/npp/pool.cpp
  ${PROJECT_SOURCE_DIR}/src/npp/huge.cpp
  ${PROJECT_SOURCE_DIR}/src/npp/api.cpp)

# The preload library carries its own copy of the library, every symbol hidden except the C
# allocation functions (so a program that links smplock itself keeps its own, separate copy).
add_library(smplock_malloc SHARED
  ${PROJECT_SOURCE_DIR}/src/npp/preload.cpp
  $<TARGET_PROPERTY:smplock,SOURCES>)
target_include_directories(smplock_malloc PRIVATE ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src)
# SMPLOCK_NPP_PRELOAD: the default pool serves calls from a program's signal handler (pool.cpp).
target_compile_definitions(smplock_malloc PRIVATE SMPLOCK_MAX_CPUS=${SMPLOCK_MAX_CPUS} SMPLOCK_NPP_PRELOAD=1
                           $<$<BOOL:${SMPLOCK_UNIPROCESSOR}>:SMPLOCK_UNIPROCESSOR=1>)
target_compile_options(smplock_malloc PRIVATE -Wall -Wextra -fvisibility=hidden -fvisibility-inlines-hidden
                       -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free)
target_link_libraries(smplock_malloc PRIVATE Threads::Threads)
target_link_options(smplock_malloc PRIVATE -Wl,-z,nodelete -Wl,-Bsymbolic)
set_target_properties(smplock_malloc PROPERTIES OUTPUT_NAME smplock-malloc CXX_VISIBILITY_PRESET hidden
                      VISIBILITY_INLINES_HIDDEN ON)
if(SMPLOCK_TOP_LEVEL)
  install(TARGETS smplock_malloc LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
