#!/usr/bin/env bash
# Installs what building smplock needs on Debian 12, and nothing that is already there.
#   scripts/deps.sh          build, run, benchmark
#   scripts/deps.sh --test   also what the tests use (Chromium for the SVG check, valgrind)
set -euo pipefail

packages=(g++ cmake ninja-build ccache git pkg-config make
          libgtest-dev libgmock-dev libbenchmark-dev
          libcli11-dev nlohmann-json3-dev libfmt-dev libdw-dev
          libabsl-dev libtbb-dev libck-dev libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium valgrind python3)
fi

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
