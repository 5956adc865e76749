#!/usr/bin/env bash
# bench/ck/build.sh: builds Concurrency Kit's own spinlock benchmark programs (latency and
# throughput, regressions/ck_spinlock/benchmark/ in a CK checkout) for CK's locks, two pthread locks
# and smplock's Lock (issue 16), the way CK's regressions Makefile does, without running its make.
# Nothing of CK is copied into this repo: everything is read from the checkout given and written to
# the output dir; bench/ck/run.sh runs the programs.
#
#   bench/ck/build.sh <ck checkout> <output dir> <smplock build dir>
#
# Steps:
#   1. CK's own configure, run out of tree in <output dir>/ck-config (it writes include/ck_md.h and
#      build/regressions.build there, not into the checkout); the harness's compiler flags are its
#      CFLAGS (-O2 -std=gnu99 ..., -DCORES=<processors>) plus the benchmark Makefile's -pthread
#      -D_GNU_SOURCE and the x86_64 profile's -m64.
#   2. Per lock, <lock>.LATENCY and <lock>.THROUGHPUT: the benchmark's latency.h or throughput.h
#      compiled as the main file with the lock's macro header passed by -include, which is what
#      regressions/ck_spinlock/benchmark/<lock>.c does with its two #includes. CK's locks use their
#      headers in regressions/ck_spinlock/; smplock uses bench/ck/ours_ck.h (+ ours_shim.cpp, linked
#      with -flto against <smplock build dir>/libsmplock.a); pthread_spin uses
#      bench/ck/pthread_spin_ck.h. pthread_mutex is CK's own regressions/ck_spinlock/pthread.h.
#   3. Two scalings, both recorded in <output dir>/build-info.txt:
#      - latency: STEPS (the harness's #ifndef knob) = $CK_STEPS, default 10000000 (CK: 30000000);
#        each step is 4 lock/unlock pairs, the program prints ticks per pair.
#      - throughput: the harness counts acquisitions for a fixed common_sleep(10) and divides by 10.
#        A copy in <output dir>/scaled/throughput.h (never in this repo) runs $CK_TP_SECONDS
#        seconds instead, default 1 (10 gives CK's original), so a 5-round pass stays under 5 min.
#   4. For smplock, a check that LTO inlined the shim: main() and the throughput loop must not call
#      smplock_ck_acquire/release. A left-over call fails that program's build.
#
# Exit status: 0 all built, 1 some program failed (see <output dir>/<name>.build.log), 2 a wrong
# argument (no CK checkout, no smplock build).
# shellcheck disable=SC2086  # the flag strings below are word-split on purpose
set -euo pipefail
usage="usage: build.sh <ck checkout> <output dir> <smplock build dir>"
if [ $# -ne 3 ]; then echo "$usage" >&2; exit 2; fi
ck=$1 out=$2 smp=$3
bench=$ck/regressions/ck_spinlock/benchmark
for f in "$ck/configure" "$ck/include/ck_spinlock.h" "$bench/latency.h" "$bench/throughput.h" "$ck/regressions/common.h"; do
  if [ ! -f "$f" ]; then
    echo "build.sh: '$ck' is not a Concurrency Kit checkout (no $f). Get one with" >&2
    echo "  git clone https://github.com/concurrencykit/ck" >&2
    exit 2
  fi
done
if [ ! -f "$smp/libsmplock.a" ] || [ ! -f "$smp/smplock.pc" ]; then
  echo "build.sh: '$smp' is not a configured smplock build with the static library built" >&2
  echo "  (need $smp/libsmplock.a and $smp/smplock.pc: cmake --build $smp --target smplock)" >&2
  exit 2
fi
ck=$(cd "$ck" && pwd)
bench=$ck/regressions/ck_spinlock/benchmark
smp=$(cd "$smp" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
# The headers the library in <smplock build dir> was built from (its source tree), which need not be
# this script's tree (a clean export of a commit, say); the shim must see the same ones.
smp_src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$smp/CMakeCache.txt" 2>/dev/null || true)
[ -n "$smp_src" ] && [ -d "$smp_src/include/smplock" ] || smp_src=$repo
mkdir -p "$out"
out=$(cd "$out" && pwd)
CC=${CC:-gcc}
CXX=${CXX:-g++}
steps=${CK_STEPS:-10000000}
seconds=${CK_TP_SECONDS:-1}

# 1. CK's configure, out of tree.
mkdir -p "$out/ck-config"
if ! (cd "$out/ck-config" && CC=$CC "$ck/configure") >"$out/ck-config.log" 2>&1; then
  echo "build.sh: CK's configure failed, see $out/ck-config.log" >&2
  exit 1
fi
ck_cflags=$(sed -n 's/^CFLAGS=//p' "$out/ck-config/build/regressions.build")
ck_cflags=${ck_cflags//-I..\/..\/..\/include/}
cores=$(sed -n 's/^CORES=//p' "$out/ck-config/build/regressions.build")
CFLAGS="$ck_cflags -I$ck/include -I$out/ck-config/include -pthread -D_GNU_SOURCE -m64 -D__x86_64__"
# smplock's public compile definitions (SMPLOCK_MAX_CPUS, SMPLOCK_UNIPROCESSOR) as its build made them.
smp_defs=$(sed -n 's/^Cflags://p' "$smp/smplock.pc" | tr ' ' '\n' | grep '^-D' | tr '\n' ' ' || true)

# 3. The throughput program scaled to $seconds s; each substitution must match exactly once.
mkdir -p "$out/scaled"
scaled() {  # scaled <file> <from> <to> <copy>
  [ "$(grep -c -F -- "$2" "$1")" = 1 ] || { echo "scaled: '$2' not found once in $1" >&2; return 1; }
  sed "s|$2|$3|" "$1" >"$4"
}
scaled "$bench/throughput.h" 'common_sleep(10);' "common_sleep($seconds);" "$out/scaled/tp1.h"
scaled "$out/scaled/tp1.h" '(v /= nthr) / 10);' "(v /= nthr) / $seconds);" "$out/scaled/tp2.h"
# Its relative include of CK's common.h made absolute (the copy no longer sits beside it).
scaled "$out/scaled/tp2.h" '#include "../../common.h"' "#include \"$ck/regressions/common.h\"" "$out/scaled/throughput.h"
rm "$out/scaled/tp1.h" "$out/scaled/tp2.h"

built=() failed=()
# build <name> <command...>: one program; a failure does not stop the others (the log says why).
build() {
  local name=$1; shift
  if "$@" >"$out/$name.build.log" 2>&1; then built+=("$name"); else failed+=("$name"); fi
}
# ck_program <lock> <header> <LATENCY|THROUGHPUT>: CK's lock, as benchmark/<lock>.c builds it.
ck_program() {
  local src=$bench/latency.h
  [ "$3" = THROUGHPUT ] && src=$out/scaled/throughput.h
  build "$1.$3" $CC -D$3 -DSTEPS=$steps $CFLAGS -include "$2" -x c "$src" -x none \
    -o "$out/$1.$3" -lm
}
# ours_program <LATENCY|THROUGHPUT>: the same harness with ours_ck.h, the shim, and -flto, then the
# check that no call to the shim is left in the harness's code.
ours_program() {
  local src=$bench/latency.h
  [ "$1" = THROUGHPUT ] && src=$out/scaled/throughput.h
  build "ours.$1" bash -c "set -e
    $CC -D$1 -DSTEPS=$steps $CFLAGS -flto -include '$repo/bench/ck/ours_ck.h' \
      -x c '$src' -c -o '$out/ours.$1.o'
    $CXX -std=c++20 -O2 -flto -Wno-attributes $smp_defs -I'$smp_src/include' -c '$repo/bench/ck/ours_shim.cpp' -o '$out/ours_shim.o'
    $CXX -O2 -flto -pthread -o '$out/ours.$1' '$out/ours.$1.o' '$out/ours_shim.o' '$smp/libsmplock.a' -lm
    if objdump -d --no-show-raw-insn '$out/ours.$1' | grep -E 'call.*<smplock_ck_(acquire|release)>'; then
      echo 'LTO left a call to the shim in the harness: the figure would include a call' >&2; exit 1
    fi"
}

ck_locks=(ck_fas ck_cas ck_dec ck_spinlock ck_ticket ck_ticket_pb ck_mcs ck_clh ck_hclh ck_anderson linux_spinlock)
for kind in LATENCY THROUGHPUT; do
  ours_program $kind
  for l in "${ck_locks[@]}"; do ck_program "$l" "$ck/regressions/ck_spinlock/$l.h" $kind; done
  ck_program pthread_mutex "$ck/regressions/ck_spinlock/pthread.h" $kind
  ck_program pthread_spin "$repo/bench/ck/pthread_spin_ck.h" $kind
done

# What run.sh and the results need: the locks with both programs, the parameters, the versions.
: >"$out/locks.txt"
for l in ours "${ck_locks[@]}" pthread_mutex pthread_spin; do
  if [ -x "$out/$l.LATENCY" ] && [ -x "$out/$l.THROUGHPUT" ]; then echo "$l" >>"$out/locks.txt"; fi
done
ck_commit=${CK_COMMIT:-$(git -C "$ck" rev-parse HEAD 2>/dev/null || echo "unknown (not a git work tree: set CK_COMMIT)")}
{
  echo "ck_checkout	$ck"
  echo "ck_commit	$ck_commit"
  echo "ck_version	$(sed -n 's/^#define CK_VERSION "\(.*\)"/\1/p' "$out/ck-config/include/ck_md.h")"
  dirty=$( (git -C "$smp_src" status --porcelain -- include src cmake CMakeLists.txt 2>/dev/null || true) | head -1)
  echo "smplock_commit	${SMPLOCK_COMMIT:-$(git -C "$smp_src" rev-parse HEAD 2>/dev/null || echo "unknown (set SMPLOCK_COMMIT)")}${dirty:+ plus uncommitted changes in include/ src/}"
  echo "smplock_source	$smp_src"
  echo "smplock_build	$smp ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$smp/CMakeCache.txt" 2>/dev/null))"
  echo "cores	$cores"
  echo "steps	$steps"
  echo "tp_seconds	$seconds"
  echo "cc	$($CC --version | head -1)"
  echo "cflags	$CFLAGS"
  echo "ours_extra	-flto; shim: $CXX -std=c++20 -O2 -flto -Wno-attributes $smp_defs"
} >"$out/build-info.txt"

echo "built: ${built[*]}"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]} (see $out/<name>.build.log)"
  exit 1
fi
