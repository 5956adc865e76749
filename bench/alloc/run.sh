#!/usr/bin/env bash
# bench/alloc/run.sh: runs mimalloc-bench's standalone programs (built by bench/alloc/build.sh) under
# each allocator through LD_PRELOAD, in interleaved rounds (round 1 runs every program under every
# allocator once, then round 2, ...), so a burst of load on the machine hits every allocator alike.
#
#   bench/alloc/run.sh <bin dir> <result dir> <shim .so> [rounds=5] [programs...]
#   bench/alloc/run.sh --check <result dir>   (redo the output comparison of a finished run)
#
# Per run it records wall/user/sys seconds, peak RSS (KiB) and minor faults from /usr/bin/time, the
# program's own figure where it prints one, and /proc/loadavg; the rows go to <result dir>/runs.tsv.
# Each run's output, with its timing lines and figures masked (norm_output), must equal glibc's
# round-1 output for that program; a difference is recorded in <result dir>/mismatches.txt.
# bench/alloc/table.py turns runs.tsv into the table of bench/results/alloc.md.
#
# Debian's mimalloc, jemalloc and tcmalloc are looked for in $ALLOC_LIBDIR (default
# /usr/lib/x86_64-linux-gnu); one that is absent is skipped with a line on stderr saying so (glibc
# and the shim always run). Bad arguments (a missing bin dir or shim, rounds that are not a positive
# whole number, a program unknown or not built; for --check, a dir without a run's outputs) exit 2
# before anything runs; --check exits 1 when an output differs. ctest drives all of this on a
# stand-in program (bench/parts/alloc.cmake).
set -euo pipefail
die() { echo "run.sh: $*" >&2; exit 2; }
usage="usage: run.sh <bin dir> <result dir> <shim .so> [rounds=5] [programs...] | run.sh --check <result dir>"
mode=run shim=""
if [ "${1:-}" = --check ]; then
  mode=check; res=${2:-}
  [ -n "$res" ] || die "$usage"
  [ -d "$res/out" ] || die "$res: not a result dir of run.sh (no out/ in it)"
  set -- . "$res" "" 1
fi
(($# >= 3)) || die "$usage"
[ -d "$1" ] || die "bin dir $1: not a directory (bench/alloc/build.sh's output dir)"
bin=$(cd "$1" && pwd)
res=$2
if [ "$mode" = run ]; then
  [ -f "$3" ] || die "shim $3: no such file (the target smplock_malloc, libsmplock-malloc.so)"
  shim=$(realpath "$3")
fi
rounds=${4:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "rounds '$rounds': not a positive whole number"
shift 4 2>/dev/null || shift $#
lib=${ALLOC_LIBDIR:-/usr/lib/x86_64-linux-gnu}
declare -A preload=(
  [glibc]=""
  [mimalloc]="$lib/libmimalloc.so.2"
  [jemalloc]="$lib/libjemalloc.so.2"
  [tcmalloc]="$lib/libtcmalloc_minimal.so.4"
  [smplock]="$shim"
)
allocs=()
for a in glibc mimalloc jemalloc tcmalloc smplock; do
  if [ "$mode" = run ] && [ -n "${preload[$a]}" ] && [ ! -f "${preload[$a]}" ]; then
    echo "run.sh: skipping $a: ${preload[$a]} not found" >&2
    continue
  fi
  allocs+=("$a")
done

# Each program scaled to 2 threads and about 1-3 s on a 2-core guest (cfrac, espresso, malloc-large
# and rptest have fixed work or built-in sleeps: see bench/results/alloc.md).
declare -A cmd=(
  [cfrac]="./cfrac 17545186520507317056371138836327483792789528"
  [espresso]="./espresso largest.espresso"
  [barnes]="./barnes"
  [larson]="./larson 2 8 1000 5000 100 4141 2"
  [larson-sized]="./larson-sized 2 8 1000 5000 100 4141 2"
  [malloc-large]="./malloc-large"
  [mstress]="./mstress 2 50 200"
  [glibc-simple]="./glibc-simple"
  [glibc-thread]="./glibc-thread 2"
  [alloc-test]="./alloc-test 2"
  [xmalloc-test]="./xmalloc-test -w 2 -t 2 -s 64"
  [cache-scratch]="./cache-scratch 2 1000 1 2000000 2"
  [rptest]="./rptest 2 0 1 2 100 1000 100 8 16000"
  [mleak]="./mleak 50"
)
declare -A input=([barnes]=barnes.input)
programs=("$@")
if ((${#programs[@]} == 0)); then
  programs=(larson larson-sized malloc-large barnes cache-scratch mstress glibc-simple glibc-thread
            alloc-test cfrac xmalloc-test rptest espresso mleak)
fi
if [ "$mode" = run ]; then
  for p in "${programs[@]}"; do
    [ -n "${cmd[$p]:-}" ] || die "unknown program '$p' (known: ${!cmd[*]})"
    exe=${cmd[$p]%% *}
    [ -x "$bin/$exe" ] || die "$p: $bin/$exe not built (name the programs to run after the rounds)"
  done
  [ -x /usr/bin/time ] || die "needs /usr/bin/time (Debian package time)"
fi

# The program's own figure, or nothing: larson ops/s, xmalloc-test Mfree/s, glibc-thread iterations,
# rptest memory ops per CPU second, alloc-test milliseconds.
figure() {  # figure <program> <stdout file>
  case $1 in
    larson*) sed -n 's/^Throughput = *\([0-9.]*\) operations.*/\1/p' "$2" ;;
    xmalloc-test) sed -n 's/.*free\/sec: \([0-9.]*\) M.*/\1/p' "$2" ;;
    glibc-thread) sed -n 's/^\([0-9]*\) iterations.*/\1/p' "$2" ;;
    rptest) sed -n 's/.*\.\.\([0-9]*\) memory ops\/CPU second.*/\1/p' "$2" ;;
    alloc-test) sed -n 's/.* operations in \([0-9]*\) ms.*/\1/p' "$2" | tail -1 ;;
  esac
}
# The output with what legitimately varies masked: every number on a line that reports a time or a
# rate, rptest's memory figures, and alloc-test's thread-finish order.
norm_output() {  # norm_output <program> <file>
  case $1 in
    alloc-test) grep -v -E 'thread [0-9]|joining|done' "$2" | sed -E 's/[0-9]+/N/g' ;;
    rptest|xmalloc-test|larson*|glibc-thread) sed -E 's/[0-9]+(\.[0-9]+)?/N/g; s/ +/ /g' "$2" ;;
    barnes) sed -E '/TIME|time|Time|START|END/s/[0-9]+(\.[0-9]+)?/N/g' "$2" ;;
    *) sed -E '/[Tt]ime|sec|ms\b/s/[0-9]+(\.[0-9]+)?/N/g' "$2" ;;
  esac
}

# check <result dir>: compares every run's masked output with glibc's round-1 output again.
check() {
  local n=0 bad=0 f p ref
  for f in "$1"/out/*.out; do
    [ -e "$f" ] || continue  # no outputs: the glob stays unexpanded
    p=$(basename "$f" .out); p=${p%.*.*}
    ref=${f%/*}/$p.glibc.1.out
    n=$((n + 1))
    if ! cmp -s <(norm_output "$p" "$f") <(norm_output "$p" "$ref"); then
      bad=$((bad + 1)); echo "differs: $f: $(diff <(norm_output "$p" "$ref") <(norm_output "$p" "$f") | head -3 | tr '\n' ' ')"
    fi
  done
  echo "outputs compared with glibc round 1: $n, differing: $bad"
  ((n > 0)) || die "$1/out: no outputs to compare"
  ((bad == 0))
}
if [ "$mode" = check ]; then check "$res"; exit; fi

mkdir -p "$res/out"
res=$(cd "$res" && pwd)  # the runs below start in the bin dir
tsv=$res/runs.tsv
[ -f "$tsv" ] || printf 'round\tprogram\tallocator\twall_s\tuser_s\tsys_s\tmaxrss_kib\tminflt\tfigure\tload1\trc\n' >"$tsv"
: >>"$res/mismatches.txt"
cd "$bin"
for ((r = 1; r <= rounds; r++)); do
  for p in "${programs[@]}"; do
    for a in "${allocs[@]}"; do
      o=$res/out/$p.$a.$r
      in=${input[$p]:-/dev/null}
      rc=0
      env ${preload[$a]:+LD_PRELOAD=${preload[$a]}} /usr/bin/time -o "$o.time" -f '%e %U %S %M %R' \
        timeout 120 ${cmd[$p]} <"$in" >"$o.out" 2>"$o.err" || rc=$?
      read -r wall user sys rss minflt < <(tail -1 "$o.time")
      load=$(cut -d' ' -f1 /proc/loadavg)
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$p" "$a" "$wall" "$user" "$sys" "$rss" \
        "$minflt" "$(figure "$p" "$o.out")" "$load" "$rc" >>"$tsv"
      norm_output "$p" "$o.out" >"$o.norm"
      ref=$res/out/$p.glibc.1.norm
      if [ "$rc" != 0 ] || ! cmp -s "$o.norm" "$ref"; then
        echo "round $r $p $a: rc=$rc, output differs from glibc round 1: $(diff "$ref" "$o.norm" | head -3 | tr '\n' ' ')" >>"$res/mismatches.txt"
      fi
      echo "r$r $p $a wall=$wall fig=$(figure "$p" "$o.out") rc=$rc load=$load"
    done
  done
done
