#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds and runs the consumer twice: with
# find_package(smplock) and with pkg-config.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src" -B "$tmp/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer"
flags=$(PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig:$tmp/prefix/lib/x86_64-linux-gnu/pkgconfig" pkg-config --cflags --libs smplock)
# shellcheck disable=SC2086
c++ "$src/consumer.cpp" -o "$tmp/consumer-pc" $flags
"$tmp/consumer-pc"
