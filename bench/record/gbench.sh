#!/usr/bin/env bash
# The Google Benchmark figures of bench/results/record.md: bench/record/gbench_locks.cpp (a plain
# program, not linked with smplock) run bare, under `smplock record`, under the interposer alone
# (LD_PRELOAD, raw trace, no finishing) and under TSan's LD_PRELOAD deadlock detector, in
# interleaved rounds (each round runs the four, in a rotated order, so the machine's load falls on
# all of them alike), then once under Helgrind with a shorter --benchmark_min_time.
#   bench/record/gbench.sh BUILD_DIR OUT_DIR [ROUNDS=3] [REPS=5] [MIN_TIME=0.1]
#   (SKIP_HELGRIND=1: without Helgrind; HELGRIND_MIN_TIME, default 0.05)
# Writes one JSON per run and gbench.md (bench/record/gbench_table.py: one table per benchmark).
set -euo pipefail
build=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
rounds=${3:-3} reps=${4:-5} min_time=${5:-0.1}
here=$(cd "$(dirname "$0")" && pwd)
dd=$(ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.dyndd-x86_64.so | head -1)
g++ -O2 -g -std=c++20 -pthread "$here/gbench_locks.cpp" -lbenchmark -o "$out/gbench_locks"
gcc -O2 -shared -fPIC -pthread "$here/dd_warmup.c" -o "$out/libdd_warmup.so"
prog="$out/gbench_locks"
smplock="$build/tools/smplock"
lib="$build/libsmplock-record.so"

# run MODE ROUND ARGS...: one run of the benchmark under MODE, its JSON in $out/MODE.ROUND.json.
run() {
  local mode=$1 round=$2
  shift 2
  local json="$out/$mode.$round.json"
  local args=("$@" --benchmark_out="$json" --benchmark_out_format=json)
  echo "round $round $mode (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/load.txt"
  case $mode in
    bare) "$prog" "${args[@]}" ;;
    record) "$smplock" record -o "$out/record.$round.trace.json" -- "$prog" "${args[@]}" ;;
    interposer) env LD_PRELOAD="$lib" SMPLOCK_RECORD_OUT="$out/interposer.$round.raw.json" "$prog" "${args[@]}" ;;
    dyndd) env DSAN_OPTIONS=symbolize=0 LD_PRELOAD="$dd:$out/libdd_warmup.so" "$prog" "${args[@]}" ;;
    helgrind) valgrind --tool=helgrind -q --log-file="$out/helgrind.log" "$prog" "${args[@]}" ;;
  esac > /dev/null
}

modes=(bare record interposer dyndd)
: > "$out/load.txt"
for ((r = 1; r <= rounds; ++r)); do
  for ((m = 0; m < ${#modes[@]}; ++m)); do
    run "${modes[(m + r - 1) % ${#modes[@]}]}" "$r" --benchmark_repetitions="$reps" --benchmark_min_time="$min_time"
  done
done
[[ -z "${SKIP_HELGRIND:-}" ]] &&
  run helgrind 1 --benchmark_repetitions=3 --benchmark_min_time="${HELGRIND_MIN_TIME:-0.05}"
python3 "$here/gbench_table.py" "$out" > "$out/gbench.md"
cat "$out/gbench.md"
