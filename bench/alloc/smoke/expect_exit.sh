#!/usr/bin/env bash
# bench/alloc/smoke/expect_exit.sh: runs a command and passes only when it exits with the given status
# and its output (stdout and stderr) matches a pattern; ctest's bad-input cases of bench/alloc's
# scripts use it (bench/parts/alloc.cmake), since ctest alone checks either the status or the output.
#
#   expect_exit.sh <status> <extended regex> <command...>
set -uo pipefail
want=${1:?usage: expect_exit.sh <status> <regex> <command...>}
pattern=${2:?regex}
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
echo "exit status: $rc"
[ "$rc" = "$want" ] || { echo "FAIL: expected exit status $want"; exit 1; }
grep -q -E -- "$pattern" <<<"$out" || { echo "FAIL: output does not match: $pattern"; exit 1; }
