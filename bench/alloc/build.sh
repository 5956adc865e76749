#!/usr/bin/env bash
# bench/alloc/build.sh: compiles mimalloc-bench's standalone benchmark programs by hand with gcc/g++
# (issue 16), without that suite's download script or its CMake, so the same binaries run under every
# allocator through LD_PRELOAD (bench/alloc/run.sh). Nothing of the suite is copied into this repo.
#
#   bench/alloc/build.sh <mimalloc-bench checkout> <output dir>
#
# The flags follow the suite's own bench/CMakeLists.txt (Release: -O3 -DNDEBUG; warnings off for its
# old C; gnu89 for cfrac/espresso/barnes; NOMEMOPT for cfrac so it calls malloc instead of keeping
# its own free lists; CPP and SIZED for larson-sized; BENCH=4 for alloc-test). Programs are linked
# dynamically against glibc's malloc so an LD_PRELOAD library replaces it.
#
# Bad arguments (not two of them, or a first that is not a checkout: no bench/ in it) exit 2 before
# anything is built; a program that fails to build makes the exit status 1.
# shellcheck disable=SC2046  # the source lists below are word-split on purpose (paths without spaces)
set -euo pipefail
die() { echo "build.sh: $*" >&2; exit 2; }
(($# == 2)) || die "usage: build.sh <mimalloc-bench checkout> <output dir>"
[ -d "$1/bench" ] || die "$1: not a mimalloc-bench checkout (no bench/ directory in it)"
src=$1/bench
out=$2
mkdir -p "$out"
CC=${CC:-gcc}
CXX=${CXX:-g++}
# The suite's warning switches: its C predates C99 (implicit int, implicit declarations).
W="-w -Wno-implicit-function-declaration -Wno-implicit-int -Wno-int-conversion -Wno-incompatible-pointer-types"
if $CC -Wno-return-mismatch -x c -c -o /dev/null /dev/null 2>/dev/null; then W="$W -Wno-return-mismatch"; fi
O="-O3 -DNDEBUG"
built=() failed=()

# build <name> <command...>: runs the compile, records success or failure (one failure does not stop
# the others; the log says why).
build() {
  local name=$1; shift
  if "$@" >"$out/$name.build.log" 2>&1; then built+=("$name"); else failed+=("$name"); fi
}

build cfrac $CC $O $W -std=gnu89 -DNOMEMOPT=1 -o "$out/cfrac" \
  $(for f in cfrac pops pconst pio pabs pneg pcmp podd phalf padd psub pmul pdivmod psqrt ppowmod \
      atop ptoa itop utop ptou errorp pfloat pidiv pimod picmp primes pcfrac pgcd; do
      echo "$src/cfrac/$f.c"; done) -lm
build espresso $CC $O $W -std=gnu89 -o "$out/espresso" \
  $(for f in cofactor cols compl contain cubestr cvrin cvrm cvrmisc cvrout dominate equiv espresso \
      essen exact expand gasp getopt gimpel globals hack indep irred main map matrix mincov opo pair \
      part primes reduce rows set setc sharp sminterf solution sparse unate utility verify; do
      echo "$src/espresso/$f.c"; done) -lm
build barnes $CC $O $W -std=gnu89 -o "$out/barnes" \
  $(for f in code code_io load grav getparam util; do echo "$src/barnes/$f.c"; done) -lm
build larson $CXX $O $W -std=c++17 -Wno-unused-result -DCPP=1 -o "$out/larson" "$src/larson/larson.cpp" -lpthread
build larson-sized $CXX $O $W -std=c++17 -Wno-unused-result -fsized-deallocation -DCPP=1 -DSIZED=1 \
  -o "$out/larson-sized" "$src/larson/larson.cpp" -lpthread
# alloc-test and glibc-simple fix their iteration counts in the source (no argument): scaled copies
# (in the output dir, never in this repo) cut them to about 1-3 s on a 2-core guest. The substitution
# must match exactly once, or the build of that program fails.
scaled() {  # scaled <file> <from> <to> <copy>
  [ "$(grep -c -F -- "$2" "$1")" = 1 ] || { echo "scaled: '$2' not found once in $1" >&2; return 1; }
  sed "s/$2/$3/" "$1" >"$4"
}
mkdir -p "$out/scaled"
build alloc-test bash -c "$(declare -f scaled); \
  scaled '$src/alloc-test/allocator_tester.cpp' 'iterCount = 100000000' 'iterCount = 20000000' '$out/scaled/allocator_tester.cpp' && \
  $CXX $O $W -std=c++17 -DBENCH=4 -I'$src/alloc-test' -o '$out/alloc-test' \
    '$src/alloc-test/test_common.cpp' '$out/scaled/allocator_tester.cpp' -lpthread"
build cache-scratch $CXX $O $W -std=c++17 -o "$out/cache-scratch" "$src/cache-scratch/cache-scratch.cpp" -lpthread
build xmalloc-test $CC $O $W -o "$out/xmalloc-test" "$src/xmalloc-test/xmalloc-test.c" -lpthread
build malloc-large $CXX $O $W -std=c++17 -o "$out/malloc-large" "$src/malloc-large/malloc-large.cpp" -lpthread
build mstress $CC $O $W -o "$out/mstress" "$src/mstress/mstress.c" -lpthread
build mleak $CC $O $W -o "$out/mleak" "$src/mleak/mleak.c" -lpthread
build rptest $CC $O $W -fpermissive -I"$src/rptest" -o "$out/rptest" \
  "$src/rptest/rptest.c" "$src/rptest/thread.c" "$src/rptest/timer.c" -lpthread -lm
build glibc-simple bash -c "$(declare -f scaled); \
  scaled '$src/glibc-bench/bench-malloc-simple.c' 'define NUM_ITERS 2000000' 'define NUM_ITERS 1000000' '$out/scaled/bench-malloc-simple.c' && \
  $CC $O $W -o '$out/glibc-simple' '$out/scaled/bench-malloc-simple.c' -lpthread"
build glibc-thread $CC $O $W -o "$out/glibc-thread" "$src/glibc-bench/bench-malloc-thread.c" -lpthread
# Inputs the programs read at run time.
cp "$src/barnes/input" "$out/barnes.input"
cp "$src/espresso/largest.espresso" "$out/largest.espresso"

echo "built: ${built[*]}"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]} (see $out/<name>.build.log)"
  exit 1
fi
