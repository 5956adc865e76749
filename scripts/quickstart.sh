#!/usr/bin/env bash
# The main job from nothing: install what is missing, build (Release), run `smplock pound` on its
# defaults (all cores, a few seconds, all three lock sets).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --parallel "$(nproc)" --target smplock-cli
exec ./build/tools/smplock pound "$@"
