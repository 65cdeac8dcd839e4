#!/usr/bin/env bash
# The main job on a built-in default: build, write a synthetic NVFP4 checkpoint into a temporary
# directory and inspect it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
build/default/tools/nvfp4 make-checkpoint "$dir/ckpt" --experts 4 --unequal-scales --shards 2
build/default/tools/nvfp4 inspect "$dir/ckpt"
