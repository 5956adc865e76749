#!/usr/bin/env bash
# The main job from nothing: install what is missing (only what running needs: no test or
# benchmark libraries), build the library, the report library, the malloc shim and the command
# (everything `cmake --install build` installs), then run `smplock pound` on its defaults (all
# cores, the five steps of the story in interleaved rounds, about 11 seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSMPLOCK_BUILD_TESTS=OFF -DSMPLOCK_BUILD_BENCH=OFF -DSMPLOCK_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build --parallel "$(nproc)"
exec ./build/tools/smplock pound "$@"
