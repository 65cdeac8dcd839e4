#!/usr/bin/env bash
# The main job on a built-in default: build, write a synthetic NVFP4 MoE checkpoint (GQA, shard
# scales deliberately unequal, two files) into a temporary directory, inspect it, and verify it
# on the reference pipeline.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default >/dev/null
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
nvfp4=build/default/tools/nvfp4
$nvfp4 make-checkpoint "$dir/ckpt" --experts 4 --unequal-scales --shards 2
$nvfp4 inspect "$dir/ckpt"
echo
$nvfp4 verify "$dir/ckpt" --backend trtllm
