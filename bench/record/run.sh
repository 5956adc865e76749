#!/usr/bin/env bash
# The overhead figures of bench/results/record.md: the bare program, `smplock record`, the
# interposer alone (LD_PRELOAD, raw trace, no finishing), TSan's LD_PRELOAD deadlock detector and
# Helgrind, on the same runs.
#   bench/record/run.sh BUILD_DIR OUT_DIR        (SKIP_HELGRIND=1: without Helgrind)
# Needs hyperfine, sysbench, valgrind, libclang-rt-14-dev (scripts/deps.sh --test).
# The Google Benchmark loop (1 and 2 threads, the same five ways) is bench/record/gbench.sh.
set -euo pipefail
build=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
dd=$(ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.dyndd-x86_64.so | head -1)
gcc -O2 -g -pthread "$here/lock_loop.c" -o "$out/lock_loop"
gcc -O2 -shared -fPIC -pthread "$here/dd_warmup.c" -o "$out/libdd_warmup.so"
smplock="$build/tools/smplock"
lib="$build/libsmplock-record.so"
two_locks="$build/tests/record_threads300"   # 300 threads, two locks (tests/record/threads300.c)

# bench NAME RUNS COMMAND: one hyperfine table per workload, the five ways side by side.
bench() {
  local name=$1 runs=$2
  shift 2
  local cmd="$*"
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/$name.json" --export-markdown "$out/$name.md" \
    -n bare "$cmd" \
    -n "smplock record" "$smplock record -o $out/$name.trace.json -- $cmd" \
    -n "interposer only" "env LD_PRELOAD=$lib SMPLOCK_RECORD_OUT=$out/$name.raw.json $cmd" \
    -n "TSan dyndd" "env DSAN_OPTIONS=symbolize=0 LD_PRELOAD=$dd:$out/libdd_warmup.so $cmd"
  # Helgrind: one run only (it is 100x-1000x slower); SKIP_HELGRIND=1 leaves it out.
  [[ -n "${SKIP_HELGRIND:-}" ]] && return 0
  hyperfine -N --runs 1 --export-json "$out/$name.helgrind.json" -n helgrind \
    "valgrind --tool=helgrind -q --log-file=$out/$name.helgrind.log $cmd"
}

bench sysbench 10 sysbench mutex --mutex-num=64 --mutex-locks=250000 --mutex-loops=0 --threads=4 run
bench loop1 10 "$out/lock_loop" 1 2000000
bench loop2 10 "$out/lock_loop" 2 1000000
bench threads300 10 "$two_locks"

# Memory: bounded by classes and edges, not by acquisitions (the peak RSS of 10x more locks).
for n in 1000000 10000000; do
  /usr/bin/time -f "lock_loop 1 $n bare: %M KiB" "$out/lock_loop" 1 $n > /dev/null
  /usr/bin/time -f "lock_loop 1 $n record: %M KiB" env LD_PRELOAD="$lib" SMPLOCK_RECORD_OUT="$out/mem.raw.json" "$out/lock_loop" 1 $n > /dev/null
done 2> "$out/memory.txt"
