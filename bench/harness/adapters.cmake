# bench/harness/adapters.cmake: the lock adapters and workloads shared by the benchmarks
# (bench/parts/locks.cmake) and the peer stress test (tests/parts/bench.cmake). Included by both;
# the target is defined once.
include_guard(GLOBAL)

find_package(absl REQUIRED)
find_package(TBB REQUIRED)
find_path(SMPLOCK_CK_INCLUDE ck_spinlock.h REQUIRED)

# Concurrency Kit's headers are C only: its three locks are wrapped in bench/peers/ck_locks.c.
add_library(smplock_bench_harness STATIC ${PROJECT_SOURCE_DIR}/bench/peers/ck_locks.c)
target_include_directories(smplock_bench_harness PUBLIC ${PROJECT_SOURCE_DIR}/bench
                           PRIVATE ${SMPLOCK_CK_INCLUDE})
# The smplock library is not linked here: each program links smplock::smplock, or the counters-off
# build of it (smplock_nocounters, bench/parts/stats.cmake), itself.
target_link_libraries(smplock_bench_harness PUBLIC absl::synchronization absl::base TBB::tbb Threads::Threads)
target_include_directories(smplock_bench_harness PUBLIC ${PROJECT_SOURCE_DIR}/include)

# Link-time optimisation lets the C wrappers inline into the C++ callers, so Concurrency Kit's locks
# pay no call that the header-only peers do not. Off in sanitizer builds.
include(CheckIPOSupported)
check_ipo_supported(RESULT SMPLOCK_BENCH_IPO LANGUAGES C CXX)
function(smplock_bench_ipo target)
  if(SMPLOCK_BENCH_IPO AND SMPLOCK_SANITIZE STREQUAL "")
    set_property(TARGET ${target} PROPERTY INTERPROCEDURAL_OPTIMIZATION ON)
  endif()
endfunction()
smplock_bench_ipo(smplock_bench_harness)
