# tests/parts/npp.cmake: the non-paged pool (issue 5).
# npp_unit: one behaviour per test. npp_death: R8, double free, foreign pointers, guard bands,
# out of memory. npp_stress: threads and interrupt handlers sharing pools, contents checked.
# npp_preload_*: real programs run on libsmplock-malloc.so (skipped in sanitizer builds, where the
# sanitizer's own allocator must stay in charge).
smplock_test(npp_unit SOURCES unit/npp_pool_test.cpp unit/npp_safety_test.cpp unit/npp_huge_test.cpp LABELS unit npp)
smplock_test(npp_death SOURCES death/npp_death_test.cpp LABELS death npp)
smplock_test(npp_stress SOURCES stress/npp_stress_test.cpp LABELS npp STRESS)

if(SMPLOCK_SANITIZE STREQUAL "" AND NOT SMPLOCK_UNIPROCESSOR AND TARGET smplock_malloc)
  set(_npp_preload "LD_PRELOAD=$<TARGET_FILE:smplock_malloc>")
  add_test(NAME npp_preload_shell
           COMMAND sh -c "ls /usr/bin | sort | uniq | wc -l > \"$1\"; LD_PRELOAD=\"$0\" sh -c 'ls /usr/bin | sort | uniq | wc -l' | cmp - \"$1\""
                   $<TARGET_FILE:smplock_malloc> ${CMAKE_CURRENT_BINARY_DIR}/npp_preload_shell.expected)
  find_program(SMPLOCK_PYTHON3 python3)
  if(SMPLOCK_PYTHON3)
    add_test(NAME npp_preload_python
             COMMAND ${CMAKE_COMMAND} -E env ${_npp_preload} ${SMPLOCK_PYTHON3} -c
                     "import threading,json,hashlib\nout=[]\ndef w(k):\n  d=[json.dumps({'k':k,'v':list(range(i%50))}) for i in range(20000)]\n  b=[bytearray(i%5000) for i in range(20000)]\n  out.append(hashlib.sha256(''.join(d).encode()).hexdigest()[:8])\nts=[threading.Thread(target=w,args=(k,)) for k in range(4)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint('threads', len(out), 'big', len(bytearray(50*1024*1024)))")
    set_tests_properties(npp_preload_python PROPERTIES PASS_REGULAR_EXPRESSION "threads 4 big 52428800"
                         LABELS "npp;preload")
  endif()
  # One of our own programs, its whole test suite, on the preloaded malloc (it keeps its own
  # copy of the library: only the C allocation functions come from the preload).
  add_test(NAME npp_preload_unit_core COMMAND ${CMAKE_COMMAND} -E env ${_npp_preload} $<TARGET_FILE:unit_core>)
  add_test(NAME npp_preload_npp_stress COMMAND ${CMAKE_COMMAND} -E env ${_npp_preload} $<TARGET_FILE:npp_stress>)
  set_tests_properties(npp_preload_shell npp_preload_unit_core npp_preload_npp_stress PROPERTIES LABELS "npp;preload")
  add_dependencies(npp_unit smplock_malloc)
endif()

# Issue 11: programs of our own, run on libsmplock-malloc.so (each checks first that its malloc is
# the preload's, and exits 0 only when every check holds). Skipped with the other preload tests.
if(SMPLOCK_SANITIZE STREQUAL "" AND NOT SMPLOCK_UNIPROCESSOR AND TARGET smplock_malloc)
  function(npp_shim_program name)
    add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/npp/${name}.cpp)
    target_link_libraries(${name} PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
    add_dependencies(${name} smplock_malloc)
    add_test(NAME npp_${name} COMMAND ${CMAKE_COMMAND} -E env ${_npp_preload} $<TARGET_FILE:${name}> ${ARGN})
    set_tests_properties(npp_${name} PROPERTIES LABELS "npp;preload" TIMEOUT 300)
  endfunction()
  npp_shim_program(shim_aligned)
  npp_shim_program(shim_calloc)
  npp_shim_program(shim_threads)
  npp_shim_program(shim_signals)
  npp_shim_program(shim_signal_malloc)
  npp_shim_program(shim_free_only)
endif()
