#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it from outside the tree as a user would:
# every installed library (smplock, smplock::report) built with find_package(smplock) and with
# pkg-config (smplock, smplock-report) and run; the malloc shim preloaded into a program; the
# installed command run.
#   check.sh BUILD_DIR SOURCE_DIR(tests/install)
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

# What the docs promise is there.
libdir=$(find "$prefix" -name libsmplock.a -printf '%h\n' | head -n 1)
[[ -n $libdir ]] || { echo "check.sh: libsmplock.a not installed" >&2; exit 1; }
for f in "$prefix/include/smplock/smplock.hpp" "$prefix/include/smplock/report.hpp" "$libdir/libsmplock-report.a" \
         "$libdir/libsmplock-malloc.so" "$libdir/pkgconfig/smplock.pc" "$libdir/pkgconfig/smplock-report.pc" \
         "$libdir/cmake/smplock/smplockConfig.cmake" "$libdir/cmake/smplock/smplockReportTargets.cmake"; do
  [[ -e $f ]] || { echo "check.sh: ${f#"$prefix"/} not installed" >&2; exit 1; }
done

echo "--- find_package(smplock)"
cmake -S "$src" -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer"
"$tmp/consumer/consumer_report"

echo "--- pkg-config smplock, smplock-report"
export PKG_CONFIG_PATH=$libdir/pkgconfig
# shellcheck disable=SC2046
c++ "$src/consumer.cpp" -o "$tmp/consumer-pc" $(pkg-config --cflags --libs smplock)
"$tmp/consumer-pc"
# shellcheck disable=SC2046
c++ "$src/consumer_report.cpp" -o "$tmp/consumer-report-pc" $(pkg-config --cflags --libs smplock-report)
"$tmp/consumer-report-pc"

echo "--- LD_PRELOAD=libsmplock-malloc.so"
shim=$libdir/libsmplock-malloc.so
nm -D --defined-only "$shim" | grep -qw malloc || { echo "check.sh: the shim does not export malloc" >&2; exit 1; }
LD_PRELOAD=$shim grep -q libsmplock-malloc /proc/self/maps || { echo "check.sh: the shim was not loaded" >&2; exit 1; }
LD_PRELOAD=$shim "$tmp/consumer/consumer_report"

if [[ -x $prefix/bin/smplock ]]; then
  echo "--- the installed command"
  "$prefix/bin/smplock" --version
  "$prefix/bin/smplock" levels --irq >/dev/null
fi
echo "install check ok"
