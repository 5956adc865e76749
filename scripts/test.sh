#!/usr/bin/env bash
# Every test, in every build that matters: the normal build (unit, death, stress, benchmark smoke
# runs, install check), ASan+UBSan, TSan, and the uniprocessor build. Ends with the total.
#   scripts/test.sh            all four builds
#   SMPLOCK_TEST_BUILDS="normal tsan" scripts/test.sh    a subset
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test || exit 1
jobs=$(nproc)
# One compiler cache for every clone and build folder (CI builds a fresh clone elsewhere).
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
builds=${SMPLOCK_TEST_BUILDS:-"normal asan tsan up"}
passed=0 failed=0 status=0

run_build() {  # name, then cmake options
  local name=$1; shift
  local dir=build-test-$name
  [[ $name == normal ]] && dir=build
  echo "=== $name build ($dir) ==="
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null || { status=1; failed=$((failed + 1)); return; }
  cmake --build "$dir" --parallel "$jobs" || { status=1; failed=$((failed + 1)); return; }
  local log
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure --parallel "$jobs" --timeout 600 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  if [[ -n $line ]]; then
    local bad total
    bad=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - bad))
    failed=$((failed + bad))
  fi
  rm -f "$log"
  [[ $rc -eq 0 ]] || status=1
}

for b in $builds; do
  case $b in
    normal) run_build normal -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMPLOCK_BUILD_TESTS=ON -DSMPLOCK_BUILD_BENCH=ON ;;
    asan) run_build asan -DCMAKE_BUILD_TYPE=Debug -DSMPLOCK_SANITIZE=address -DSMPLOCK_BUILD_TESTS=ON \
            -DSMPLOCK_BUILD_BENCH=OFF -DSMPLOCK_BUILD_TOOLS=OFF -DSMPLOCK_BUILD_EXAMPLES=OFF ;;
    tsan) run_build tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMPLOCK_SANITIZE=thread -DSMPLOCK_BUILD_TESTS=ON \
            -DSMPLOCK_BUILD_BENCH=OFF -DSMPLOCK_BUILD_TOOLS=OFF -DSMPLOCK_BUILD_EXAMPLES=OFF ;;
    up) run_build up -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMPLOCK_UNIPROCESSOR=ON -DSMPLOCK_BUILD_TESTS=ON \
            -DSMPLOCK_BUILD_BENCH=OFF -DSMPLOCK_BUILD_TOOLS=OFF -DSMPLOCK_BUILD_EXAMPLES=OFF ;;
    *) echo "scripts/test.sh: unknown build '$b' (normal, asan, tsan, up)" >&2; exit 2 ;;
  esac
done
echo "all builds ($builds):"
echo "total: $passed passed, $failed failed"
exit $status
