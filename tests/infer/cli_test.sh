#!/usr/bin/env bash
# cli_test.sh SMPLOCK FIXTURES WORKDIR: `smplock levels --infer` end to end on the hand-written
# bank.json trace (tests/infer/): the text names the planted cycle that can deadlock and the three
# that cannot, --json/--table/--header/--svg write what they should (JSON checked by python3 when
# present), "-" writes to stdout, and bad input (missing, a directory, not JSON, another schema,
# another version) exits 2 with a message naming the file.
set -uo pipefail
smplock=$1 fixtures=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
failures=0
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }

# expect STATUS REGEX ARG...: smplock ARG... exits with STATUS and its output matches REGEX.
expect() {
  local want=$1 regex=$2 out rc
  shift 2
  out=$("$smplock" "$@" 2>&1)
  rc=$?
  [[ $rc -eq $want ]] || { fail "exit $rc, wanted $want: smplock $*"; printf '%s\n' "$out"; return; }
  grep -Eq -- "$regex" <<<"$out" || { fail "no /$regex/ in: smplock $*"; printf '%s\n' "$out"; return; }
  printf 'ok: smplock %s: /%s/\n' "$*" "$regex"
}

bank=$fixtures/bank.json
expect 0 "cycle 1: ledger -> audit_lock -> ledger +CAN DEADLOCK" levels --infer "$bank"
expect 0 "only ever a trylock" levels --infer "$bank"
expect 0 "guarded by registry_lock" levels --infer "$bank"
expect 0 "every edge is read-read" levels --infer "$bank"
expect 0 "0x10 +registry_lock +mutex +main \(bank.c:10\)" levels --infer "$bank"
expect 0 "make_account\+16 +1.50%" levels --infer "$bank"
expect 0 "ledger is taken inside make_account\+16 in 93%" levels --infer "$bank"
expect 0 "taken at:" levels --infer "$bank" --verbose
# Two copies of one trace merge into one graph: the same cycles, counts doubled.
expect 0 "2 traces of /opt/bank/bank: 10 classes, 13 order edges" levels --infer "$bank" "$bank"

expect 0 "" levels --infer "$bank" --json "$work/all.json" --table "$work/table.json" --header "$work/levels.hpp" \
  --svg "$work/graph.svg"
for f in all.json table.json levels.hpp graph.svg; do [[ -s $work/$f ]] || fail "$f not written"; done
grep -q '"schema": "smplock-levels"' "$work/table.json" || fail "table has no schema"
grep -q 'inline constexpr smplock::Level RegistryLock{0x10};' "$work/levels.hpp" || fail "header lacks RegistryLock"
grep -q '<svg' "$work/graph.svg" || fail "svg is not SVG"
if command -v python3 > /dev/null; then
  python3 - "$work/all.json" "$work/table.json" <<'PY' || fail "JSON checks"
import json, sys
a = json.load(open(sys.argv[1])); t = json.load(open(sys.argv[2]))
assert a["schema"] == "smplock-infer" and len(a["cycles"]) == 4, a["cycles"]
assert sum(c["can_deadlock"] for c in a["cycles"]) == 1
assert t["version"] == 1 and len(t["classes"]) == 6 and len(t["unleveled"]) == 4
levels = {c["key"]: c["level"] for c in t["classes"]}
for e in a["edges"]:  # every kept edge goes up the table
    if e["kept"]:
        assert levels[e["from"]] < levels[e["to"]], e
print("ok: JSON and table consistent")
PY
fi
# "-" puts one form on stdout, and the text is left out.
expect 0 '^\{' levels --infer "$bank" --table -
out=$("$smplock" levels --infer "$bank" --header - 2>&1)
grep -q "Potential deadlocks" <<<"$out" && fail "text printed along with --header -"

# Bad input: exit 2, the file named.
printf '{not json' > "$work/broken.json"
printf '{"schema":"smplock-stats","version":1}' > "$work/stats.json"
sed 's/"version": 1/"version": 7/' "$bank" > "$work/v7.json"
expect 2 "smplock levels: $work/nothing.json: No such file" levels --infer "$work/nothing.json"
expect 2 "smplock levels: $work: is a directory" levels --infer "$work"
expect 2 "broken.json: not JSON" levels --infer "$work/broken.json"
expect 2 "stats.json: schema: \"smplock-stats\", not \"smplock-trace\"" levels --infer "$work/stats.json"
expect 2 "v7.json: version: 7 is not a version" levels --infer "$bank" "$work/v7.json"
expect 2 "json" levels --json "$work/x.json"          # --json needs --infer
expect 2 "" levels --infer                            # a trace is required
expect 2 "excludes|Excludes" levels --irq --infer "$bank"
expect 2 "cannot write" levels --infer "$bank" --table "$work/no/such/dir/t.json"

[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
echo "all passed"
