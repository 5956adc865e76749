#!/usr/bin/env bash
# The `smplock enforce` figures of bench/results/record.md (issue 13): the bare program, `smplock
# record`, and `smplock enforce` (with and without --warn) holding it to the table learned from one
# recorded run, on the workloads of run.sh.
#   bench/record/enforce.sh BUILD_DIR OUT_DIR [RUNS]
# Needs hyperfine and sysbench (scripts/deps.sh --test).
set -euo pipefail
build=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
runs=${3:-10}
here=$(cd "$(dirname "$0")" && pwd)
gcc -O2 -g -pthread "$here/lock_loop.c" -o "$out/lock_loop"
smplock="$build/tools/smplock"

# bench NAME COMMAND: learn the table once, then one hyperfine table with the four ways side by side,
# and what `smplock enforce` costs before the program runs (its own start, the table, fork, exec).
bench() {
  local name=$1
  shift
  local cmd="$*"
  $smplock record -o "$out/$name.learn.json" -- $cmd > /dev/null
  $smplock levels --infer "$out/$name.learn.json" --table "$out/$name.table.json" > /dev/null
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/$name.json" --export-markdown "$out/$name.md" \
    -n bare "$cmd" \
    -n "smplock record" "$smplock record -o $out/$name.trace.json -- $cmd" \
    -n "smplock enforce" "$smplock enforce --levels $out/$name.table.json -- $cmd" \
    -n "smplock enforce --warn" "$smplock enforce --warn --levels $out/$name.table.json -- $cmd" \
    -n "enforce: start-up only" "$smplock enforce --levels $out/$name.table.json -- true"
}

bench sysbench_plain sysbench mutex --mutex-num=64 --mutex-locks=2000 --threads=4 run
bench sysbench sysbench mutex --mutex-num=64 --mutex-locks=1000000 --mutex-loops=0 --threads=4 run
bench loop1 "$out/lock_loop" 1 2000000
bench loop2 "$out/lock_loop" 2 1000000
