#!/usr/bin/env bash
# The done-criterion runs of bench/results/pound.md: N default `smplock pound` runs in a row, each
# saved as JSON with the load average before and after it, then one table of them all.
#   bench/pound/runs.sh BUILD_DIR OUT_DIR [N] [-- POUND_OPTIONS...]
# With HOG=K set, `stress-ng --cpu K` runs beside the whole series (Debian's stress-ng).
set -euo pipefail
build=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
n=${3:-10}
shift $(($# < 3 ? $# : 3))
[[ "${1:-}" == "--" ]] && shift
here=$(cd "$(dirname "$0")" && pwd)
hog=""
if [[ -n "${HOG:-}" ]]; then
  stress-ng --cpu "$HOG" --timeout 3600 --quiet &
  hog=$!
  trap 'kill $hog 2>/dev/null || true; wait $hog 2>/dev/null || true' EXIT
  sleep 2  # let the hog's workers start before the first run
fi
{
  echo "# $(date -u '+%F %T UTC') $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) CPUs"
  echo "# command: smplock pound $* --json runK.json${HOG:+ (stress-ng --cpu $HOG beside it)}"
} >"$out/log.txt"
for k in $(seq 1 "$n"); do
  echo "== run $k: $(date -u +%T) $(cat /proc/loadavg)" >>"$out/log.txt"
  rc=0
  "$build/tools/smplock" pound "$@" --json "$out/run$k.json" >"$out/run$k.txt" 2>&1 || rc=$?
  echo "rc=$rc end $(date -u +%T) $(cat /proc/loadavg)" >>"$out/log.txt"
done
python3 "$here/summarise.py" "$out"/run*.json | tee "$out/table.md"
