#!/usr/bin/env bash
# zero_cpus.sh SMPLOCK: a report whose statistics say "cpus": 0 while its classes counted lock
# activity is refused (exit 2, naming the field) rather than read with contention over one CPU.
# The same file with its real CPU count reads, so the refusal is the zero's doing.
set -euo pipefail
smplock=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$smplock" pound --cpus 1 --seconds 0.01 --locks giant --no-report --json "$tmp/run.json" >/dev/null 2>&1
"$smplock" report "$tmp/run.json" >/dev/null
sed -E 's/"cpus": [0-9]+/"cpus": 0/g' "$tmp/run.json" >"$tmp/zero.json"
grep -q '"cpus": 0' "$tmp/zero.json"
set +e
out=$("$smplock" report "$tmp/zero.json" 2>&1)
rc=$?
set -e
printf '%s\n' "$out"
[[ $rc -eq 2 ]] || { echo "FAIL: exit status $rc, wanted 2"; exit 1; }
grep -Eq 'cpus.*0' <<<"$out" || { echo "FAIL: the message does not name cpus"; exit 1; }
