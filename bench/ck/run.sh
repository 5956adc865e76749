#!/usr/bin/env bash
# bench/ck/run.sh: runs Concurrency Kit's spinlock benchmark programs built by bench/ck/build.sh for
# every lock, in interleaved rounds (issue 16): each round runs every cell (latency, then throughput
# at each thread count) for every lock once, the locks in an order rotated by one each round, so a
# burst of load on the machine falls on all locks alike and no lock always runs first.
#
#   bench/ck/run.sh <build output dir> [rounds=5] [thread counts="1 2 8"]
#
# Cells:
#   latency  <lock>.LATENCY: one thread (no affinity, no other thread ever created), STEPS x 4
#            lock/unlock pairs of an uncontended lock between two TSC reads (cpuid; rdtsc: CK's
#            configure does not enable its rdtscp variant); prints TSC ticks per pair (integer
#            division: 1-tick resolution).
#   tpN      <lock>.THROUGHPUT N 1 0: N threads, affinity delta 1 (thread i pinned to CPU i mod
#            CORES, so N > CORES oversubscribes), empty critical section (the counter increment
#            only); each thread loops lock/count/unlock for tp_seconds (build-info.txt). Figure:
#            all threads' acquisitions per second (Mops/s); also the harness's own per-thread
#            average and the standard deviation between threads in % of it (its fairness figure).
# Writes <build output dir>/runs.tsv (replaced; the previous one is kept as runs.tsv.prev) with the
# 1-minute load average at each run, and machine.txt (processor, TSC frequency, date). Each run's
# output stays in <build output dir>/out/. bench/ck/table.py turns runs.tsv into the tables.
set -euo pipefail
dir=$(cd "${1:?usage: run.sh <build output dir> [rounds=5] [thread counts]}" && pwd)
rounds=${2:-5}
read -r -a threads <<<"${3:-1 2 8}"
[ -f "$dir/locks.txt" ] || { echo "run.sh: no $dir/locks.txt: run bench/ck/build.sh first" >&2; exit 2; }
mapfile -t locks <"$dir/locks.txt"
seconds=$(sed -n 's/^tp_seconds\t//p' "$dir/build-info.txt")

{
  echo "date	$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "processor	$(lscpu | sed -n 's/^Model name: *//p')"
  echo "cpus	$(nproc)"
  echo "hypervisor	$(lscpu | sed -n 's/^Hypervisor vendor: *//p')"
  # The TSC rate: the kernel's calibration if dmesg is readable, else /proc/cpuinfo's nominal MHz.
  echo "tsc	$( (dmesg 2>/dev/null | grep -o 'tsc: Detected [0-9.]* MHz' | head -1) ||
    true)$(grep -q tsc_known_freq /proc/cpuinfo && echo ' (tsc_known_freq)'); cpuinfo: $(grep -m1 'cpu MHz' /proc/cpuinfo | sed 's/.*: //') MHz"
  echo "kernel	$(uname -r)"
  echo "rounds	$rounds"
  echo "threads	${threads[*]}"
  echo "load_before	$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$dir/machine.txt"

tsv=$dir/runs.tsv
[ -f "$tsv" ] && mv "$tsv" "$tsv.prev"
printf 'round\tcell\tlock\tfigure\tunit\tper_thread\tthread_dev_pct\tload1\trc\twall_s\n' >"$tsv"
mkdir -p "$dir/out"
cells=(latency)
for t in "${threads[@]}"; do cells+=("tp$t"); done
start=$SECONDS
for ((r = 1; r <= rounds; r++)); do
  # This round's order: the lock list rotated by r - 1.
  n=${#locks[@]} order=()
  for ((i = 0; i < n; i++)); do order+=("${locks[(i + r - 1) % n]}"); done
  for c in "${cells[@]}"; do
    for l in "${order[@]}"; do
      o=$dir/out/$l.$c.$r
      rc=0 t0=$(date +%s.%N)
      if [ "$c" = latency ]; then
        timeout 120 "$dir/$l.LATENCY" >"$o.out" 2>"$o.err" || rc=$?
        fig=$(tr -d ' ' <"$o.out" | head -1) unit=ticks per=""; dev=""
      else
        timeout $((seconds + 120)) "$dir/$l.THROUGHPUT" "${c#tp}" 1 0 >"$o.out" 2>"$o.err" || rc=$?
        total=$(sed -n 's/^# total *: *\([0-9]*\).*/\1/p' "$o.out")
        fig=""
        [ -z "$total" ] || fig=$(awk -v t="$total" -v s="$seconds" 'BEGIN { printf "%.3f", t / s / 1e6 }')
        unit=Mops/s
        per=$(sed -n 's/^# throughput *: *\([0-9]*\) a\/s.*/\1/p' "$o.out")
        dev=$(sed -n 's/^# deviation *: *[0-9.]* (\([0-9.]*\)%).*/\1/p' "$o.out")
      fi
      wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
      load=$(cut -d' ' -f1 /proc/loadavg)
      [ -n "$fig" ] || [ "$rc" != 0 ] || rc=99  # no figure printed: a failed run, whatever its status
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$l" "$fig" "$unit" "$per" "$dev" \
        "$load" "$rc" "$wall" >>"$tsv"
      echo "r$r $c $l $fig $unit${dev:+ dev=$dev%} load=$load rc=$rc"
    done
  done
done
echo "load_after	$(cut -d' ' -f1-3 /proc/loadavg)" >>"$dir/machine.txt"
echo "elapsed_s	$((SECONDS - start))" >>"$dir/machine.txt"
echo "wrote $tsv ($((SECONDS - start)) s)"
