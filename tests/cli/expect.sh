#!/usr/bin/env bash
# expect.sh STATUS REGEX COMMAND [ARG...]: runs COMMAND and passes when it exits with STATUS and its
# output (stdout and stderr together) matches the extended regular expression REGEX (or, written
# !REGEX, has no line that matches it). The smplock
# command's tests (tests/parts/cli.cmake) use it to check an exit status and a message at once,
# which ctest's PASS_REGULAR_EXPRESSION alone cannot (it ignores the status).
set -uo pipefail
want=$1 regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
if [[ $rc -ne $want ]]; then
  printf 'FAIL: exit status %d, wanted %d\n--- output of: %s\n%s\n' "$rc" "$want" "$*" "$out"
  exit 1
fi
if [[ $regex == !* ]]; then
  if grep -Eq -- "${regex#!}" <<<"$out"; then
    printf 'FAIL: output matches /%s/\n--- output of: %s\n%s\n' "${regex#!}" "$*" "$out"
    exit 1
  fi
elif ! grep -Eq -- "$regex" <<<"$out"; then
  printf 'FAIL: output does not match /%s/\n--- output of: %s\n%s\n' "$regex" "$*" "$out"
  exit 1
fi
printf 'ok: exit %d, /%s/\n' "$rc" "$regex"
