#!/usr/bin/env bash
# The lock benchmarks, ours beside every peer: builds them (Release), runs the whole suite with
# repetitions, counts uncontended instructions under callgrind, and writes the results.
#   scripts/bench.sh                  full suite (about 5 minutes on 2 cores)
#   REPS=3 RUN_MS=100 scripts/bench.sh    a quicker, rougher pass
# Environment: BUILD_DIR (default build-release), OUT_DIR (default bench/results), REPS (5),
# RUN_MS (200: time per threaded cell and repetition), MIN_TIME (0.2 s per timed loop), FILTER (a
# Google Benchmark regex, default all).
# Writes to OUT_DIR: locks.json, locks-absl-nodd.json, locks-nocounters.json (raw Google Benchmark output),
# locks-callgrind.txt (instructions per pair), locks-machine.txt (lscpu, load before and after),
# locks-tables.md (the tables) and locks-threads.svg (throughput against threads).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
build=${BUILD_DIR:-build-release}
out=${OUT_DIR:-bench/results}
reps=${REPS:-5}
run_ms=${RUN_MS:-200}
min_time=${MIN_TIME:-0.2}
filter=${FILTER:-.}
mkdir -p "$out"

echo "=== build ($build, Release) ==="
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --parallel 2 --target bench_locks bench_locks_absl_nodd bench_locks_callgrind
# Ours without statistics (needs the counters-off library of bench/parts/stats.cmake; optional).
nocounters=0
if cmake --build "$build" --parallel 2 --target bench_locks_nocounters bench_locks_callgrind_nocounters >/dev/null 2>&1; then
  nocounters=1
else
  echo "(bench_locks_nocounters did not build: the ours_nocounters row is left out)"
  rm -f "$out/locks-nocounters.json"
fi

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "load before: $(uptime)"
  echo "command: REPS=$reps RUN_MS=$run_ms MIN_TIME=$min_time FILTER='$filter' scripts/bench.sh"
  echo "compiler: $(${CXX:-c++} --version | head -n 1)"
  echo "kernel: $(uname -r)"
  lscpu | head -n 20
} >"$out/locks-machine.txt"

# Repetitions are interleaved at random across the cells, so a change in the machine's load during
# the run spreads over every lock instead of landing on whichever ran last.
common=(--run_ms="$run_ms" --benchmark_repetitions="$reps" --benchmark_min_time="$min_time"
        --benchmark_enable_random_interleaving=true
        --benchmark_display_aggregates_only=true --benchmark_filter="$filter" --benchmark_out_format=json)
echo "=== bench_locks: every lock, absl::Mutex with deadlock detection as Debian builds it (on) ==="
"$build/bench/bench_locks" "${common[@]}" --benchmark_out="$out/locks.json"
echo "=== bench_locks_absl_nodd: absl::Mutex with deadlock detection off ==="
"$build/bench/bench_locks_absl_nodd" "${common[@]}" --benchmark_out="$out/locks-absl-nodd.json"
jsons=("$out/locks.json" "$out/locks-absl-nodd.json")
if ((nocounters)); then
  echo "=== bench_locks_nocounters: ours with the statistics compiled out ==="
  "$build/bench/bench_locks_nocounters" "${common[@]}" --benchmark_out="$out/locks-nocounters.json"
  jsons+=("$out/locks-nocounters.json")
fi
echo "load after: $(uptime)" >>"$out/locks-machine.txt"
# Keep the raw repetitions only (the tables recompute median, min and max from them), one line each.
python3 - "${jsons[@]}" <<'PY'
import json, sys
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            doc = json.load(f)
    except ValueError:
        continue  # nothing matched the filter in this program
    doc["benchmarks"] = [b for b in doc.get("benchmarks", []) if b.get("run_type") != "aggregate"]
    with open(path, "w") as f:
        f.write(json.dumps({k: v for k, v in doc.items() if k != "benchmarks"}, indent=1)[:-2])
        f.write(',\n "benchmarks": [\n' + ",\n".join(json.dumps(b) for b in doc["benchmarks"]) + "\n ]\n}\n")
PY

# Instructions per uncontended pair (and per 4-lock chain): the difference between two runs of
# different lengths, so start-up and the first acquire cancel out.
echo "=== callgrind instruction counts ==="
cg="$out/locks-callgrind.txt"
if command -v valgrind >/dev/null; then
  echo "# lock mode instructions-per-pair (mode chain: per pass over 4 nested locks)" >"$cg"
  tmp=$(mktemp -d)
  count() {  # program, lock, pairs, extra args -> instructions collected
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" 2>&1 |
      sed -nE 's/.*Collected : ([0-9]+).*/\1/p'
  }
  programs=("$build/bench/bench_locks_callgrind")
  ((nocounters)) && programs+=("$build/bench/bench_locks_callgrind_nocounters")
  for prog in "${programs[@]}"; do
  for lock in $("$prog" --list); do
    for mode in pair chain; do
      extra=()
      [[ $mode == chain ]] && extra=(--chain)
      a=$(count "$prog" "$lock" 100000 "${extra[@]}")
      b=$(count "$prog" "$lock" 200000 "${extra[@]}")
      per=$(python3 -c "print(f'{($b - $a) / 100000:.1f}')")
      echo "$lock $mode $per" | tee -a "$cg"
    done
  done
  done
  rm -rf "$tmp"
else
  echo "# valgrind not installed (apt-get install valgrind): no instruction counts" >"$cg"
fi

python3 bench/plot_locks.py --json "${jsons[@]}" --callgrind "$cg" \
  --machine "$out/locks-machine.txt" --tables "$out/locks-tables.md" --svg "$out/locks-threads.svg"
echo "=== wrote $out/locks-tables.md and $out/locks-threads.svg ==="
