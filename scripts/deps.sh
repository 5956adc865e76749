#!/usr/bin/env bash
# Installs what smplock needs on Debian 12, and nothing that is already there.
#   scripts/deps.sh          build and run: the library, the report library, the malloc shim and
#                            the smplock command (configure with -DSMPLOCK_BUILD_TESTS=OFF
#                            -DSMPLOCK_BUILD_BENCH=OFF, as scripts/quickstart.sh does)
#   scripts/deps.sh --test   also everything the tests and benchmarks use (scripts/test.sh,
#                            scripts/bench.sh): GoogleTest, Google Benchmark, the peer libraries
#                            the benchmarks compare with, Chromium for the SVG check, valgrind
set -euo pipefail

# Building and running: a compiler, the build tools, the command line parser, and the report's
# JSON, formatting and call-site (libdw) libraries.
packages=(g++ cmake ninja-build pkg-config
          libcli11-dev nlohmann-json3-dev libfmt-dev libdw-dev)
case "${1:-}" in
  "") ;;
  --test)
    packages+=(ccache git make python3 time chromium valgrind sysbench pigz hyperfine libclang-rt-14-dev
               libgtest-dev libgmock-dev libbenchmark-dev
               libabsl-dev libtbb-dev libck-dev libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev)
    ;;
  *) echo "scripts/deps.sh: unknown option '$1' (none, or --test)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  sudo=(sudo)
fi
echo "smplock: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
