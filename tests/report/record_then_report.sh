#!/usr/bin/env bash
# record_then_report.sh SMPLOCK WORKDIR PROGRAM: `smplock record -o WORKDIR/t.json -- PROGRAM`, then
# `smplock report` on that trace: the table names the program's lock classes and its contended call
# site (tests/record/contended.c: `busy`, `spin`, one contended acquisition from `waiter`), --json
# writes a stats report that `smplock report` reads back, --svg writes the picture.
set -uo pipefail
smplock=$1 work=$2 program=$3
rm -rf "$work" && mkdir -p "$work" || exit 1
fail() {
  printf 'FAIL: %s\n' "$1"
  [[ -f $work/out.txt ]] && { echo '--- output:'; cat "$work/out.txt"; }
  exit 1
}
"$smplock" record -o "$work/t.json" -- "$program" > "$work/record.txt" 2>&1 || fail "record exited $? ($(cat "$work/record.txt"))"
[[ -f $work/t.json ]] || fail "record wrote no trace"
"$smplock" report "$work/t.json" > "$work/out.txt" 2>&1 || fail "report exited $?"
grep -Eq '^busy +- +[0-9.]+% +!? +2 +1 ' "$work/out.txt" || fail "no row for busy: 2 acquired, 1 contended"
grep -Eq '^spin +- +0\.000% +1 +0 ' "$work/out.txt" || fail "no row for spin: 1 acquired, 0 contended"
grep -Eq '^ +1 from waiter( \(contended\.c:[0-9]+\))?$' "$work/out.txt" || fail "the contended call site in waiter is not named"
grep -Eq "trace of /.*/${program##*/} \(pid [0-9]+\)" "$work/out.txt" || fail "the process is not named"
grep -Eq "^lock order: 1 order edge, .*smplock levels --infer $work/t.json" "$work/out.txt" || fail "no pointer to levels --infer"
"$smplock" report "$work/t.json" --json "$work/stats.json" --svg "$work/t.svg" > "$work/out.txt" 2>&1 || fail "report --json --svg exited $?"
grep -q '</svg>' "$work/t.svg" || fail "no SVG written"
grep -q 'busy' "$work/t.svg" || fail "the SVG does not name busy"
"$smplock" report "$work/stats.json" > "$work/out.txt" 2>&1 || fail "report of the written stats JSON exited $?"
grep -Eq '^busy .* 2 +1 ' "$work/out.txt" || fail "the stats JSON lost busy's counts"
echo "ok: record then report names busy and spin"
