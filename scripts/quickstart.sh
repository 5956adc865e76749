#!/usr/bin/env bash
# The main job from nothing: install what is missing, build (Release), run `smplock pound` on its
# defaults (all cores, a few seconds, all three lock sets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)" --target smplock-cli example-bank
if ./build/tools/smplock pound --help >/dev/null 2>&1; then
  exec ./build/tools/smplock pound "$@"
fi
# Until the pound workload exists: the level table and the example program.
./build/tools/smplock levels
./build/examples/example-bank
