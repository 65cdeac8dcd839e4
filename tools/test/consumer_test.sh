#!/usr/bin/env bash
# cmake --install this build into a temporary prefix, then configure, build and run a project
# outside the tree against it with find_package(nvfp4).
#   consumer_test.sh BUILD_DIR
set -euo pipefail
build=$1
src=$(cd "$(dirname "$0")/consumer" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer" "$work/ckpt"
test -x "$work/prefix/bin/nvfp4"
"$work/prefix/bin/nvfp4" --version
