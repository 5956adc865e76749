#!/usr/bin/env bash
# bench/alloc/smoke/smoke.sh: ctest's end-to-end check of the mimalloc-bench harness (bench/alloc/run.sh,
# table.py) without a checkout of that suite (bench/parts/alloc.cmake runs it). The stand-in program
# (standin.cpp) is copied into a scratch bin dir as glibc-thread (a program whose own figure is read)
# and malloc-large (one measured by wall time); run.sh runs both for 1 round under every allocator
# present; then the TSV, table.py's table and run.sh --check are checked, so a break in any of them
# fails the test rather than only a non-zero exit.
#
#   smoke.sh <stand-in program> <shim .so> <work dir>
#
# Environment: PYTHON (default python3) runs table.py; EXPECT_ALLOCS, when set, is the exact
# allocator list the run must have (else: glibc and smplock, plus each Debian allocator run.sh did not
# say it skipped); ALLOC_LIBDIR is passed on to run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)  # bench/alloc
standin=${1:?usage: smoke.sh <stand-in program> <shim .so> <work dir>}
shim=$(realpath "${2:?shim .so}")
work=$(realpath -m "${3:?work dir}")
python=${PYTHON:-python3}
fail() { echo "FAIL: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work/bin"
programs=(glibc-thread malloc-large)
for p in "${programs[@]}"; do cp "$standin" "$work/bin/$p"; done

echo "== run.sh (1 round)"
# Relative bin and result dirs, as a user types them (run.sh changes directory before the runs).
(cd "$work" && "$here/run.sh" bin res "$shim" 1 "${programs[@]}") 2>"$work/run.err" | tee "$work/run.out" ||
  fail "run.sh exited non-zero: $(cat "$work/run.err")"
cat "$work/run.err"

# The allocators that must have run.
if [ -n "${EXPECT_ALLOCS:-}" ]; then
  read -r -a allocs <<<"$EXPECT_ALLOCS"
else
  allocs=(glibc)
  for a in mimalloc jemalloc tcmalloc; do
    grep -q "^run.sh: skipping $a: " "$work/run.err" || allocs+=("$a")
  done
  allocs+=(smplock)
fi
for a in mimalloc jemalloc tcmalloc; do
  if [[ " ${allocs[*]} " != *" $a "* ]]; then
    grep -q "^run.sh: skipping $a: .* not found" "$work/run.err" || fail "$a did not run and run.sh did not say it skipped it"
  fi
done
echo "== expected allocators: ${allocs[*]}"

tsv=$work/res/runs.tsv
[ -f "$tsv" ] || fail "no $tsv"
header=$(printf 'round\tprogram\tallocator\twall_s\tuser_s\tsys_s\tmaxrss_kib\tminflt\tfigure\tload1\trc')
[ "$(head -1 "$tsv")" = "$header" ] || fail "runs.tsv header: $(head -1 "$tsv")"
rows=$(($(wc -l <"$tsv") - 1))
[ "$rows" = $((${#programs[@]} * ${#allocs[@]})) ] || fail "runs.tsv has $rows rows, expected ${#programs[@]} x ${#allocs[@]}"
num='^[0-9]+(\.[0-9]+)?$'
for p in "${programs[@]}"; do
  for a in "${allocs[@]}"; do
    row=$(awk -F'\t' -v p="$p" -v a="$a" '$1 == 1 && $2 == p && $3 == a' "$tsv")
    [ "$(printf '%s\n' "$row" | grep -c .)" = 1 ] || fail "runs.tsv: not exactly one round-1 row for $p under $a"
    IFS="|" read -r _ _ _ wall user sys rss minflt figure load rc <<<"${row//$'\t'/|}"  # tabs would collapse
    for v in "$wall" "$user" "$sys" "$rss" "$minflt" "$load"; do
      [[ $v =~ $num ]] || fail "runs.tsv: $p $a: '$v' is not a number: $row"
    done
    [ "$rc" = 0 ] || fail "runs.tsv: $p $a exited $rc ($(head -3 "$work/res/out/$p.$a.1.err"))"
    if [ "$p" = glibc-thread ]; then
      if ! [[ $figure =~ $num ]] || [ "$figure" = 0 ]; then fail "runs.tsv: $p $a: no figure read ('$figure')"; fi
    else
      [ -z "$figure" ] || fail "runs.tsv: $p $a: unexpected figure '$figure'"
    fi
  done
done
[ ! -s "$work/res/mismatches.txt" ] || fail "mismatches: $(cat "$work/res/mismatches.txt")"

echo "== table.py"
"$python" "$here/table.py" "$tsv" >"$work/table.md"
cat "$work/table.md"
grep -q "^Runs: $rows, rounds 1-1;.* runs with a non-zero exit: 0" "$work/table.md" || fail "table.py: no summary line"
n=${#allocs[@]}
grep -q "^| glibc-thread (Miter) | .* | [1-$n] of $n | [0-9.]* ([a-z]*) | " "$work/table.md" ||
  fail "table.py: no glibc-thread row ranking ours among $n"
grep -q "^| malloc-large (s wall) | .* | [1-$n] of $n | [0-9.]* ([a-z]*) | " "$work/table.md" ||
  fail "table.py: no malloc-large row ranking ours among $n"
[ "$(grep -c '^| glibc-thread | \|^| malloc-large | ' "$work/table.md")" = 2 ] || fail "table.py: no CPU-seconds rows"

echo "== run.sh --check"
"$here/run.sh" --check "$work/res" | tee "$work/check.out"
grep -q "^outputs compared with glibc round 1: $rows, differing: 0$" "$work/check.out" || fail "--check did not compare $rows outputs"
# And --check must see a difference: one output changed makes it report it and exit 1.
echo "a line glibc did not print" >>"$work/res/out/malloc-large.smplock.1.out"
rc=0
"$here/run.sh" --check "$work/res" >"$work/check2.out" || rc=$?
if [ "$rc" != 1 ] || ! grep -q "differing: 1$" "$work/check2.out"; then
  fail "--check missed a changed output (rc $rc): $(cat "$work/check2.out")"
fi
echo "PASS: run.sh, table.py and --check on ${programs[*]} x ${allocs[*]}"
