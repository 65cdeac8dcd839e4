#!/usr/bin/env bash
# The main job on a built-in default: installs what is missing, builds only the nvfp4 command
# (not the test programs), and runs `nvfp4 demo`: a dense and an MoE synthetic model written to a
# temporary directory, both pipelines side by side, reloads (same weights, new weights, a corrupt
# file), GEMMs in both modes against the exact oracle, one table. Exit 0 only if all hold.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --packages-only
cmake --preset default >/dev/null
cmake --build --preset default --target nvfp4 >/dev/null
build/default/tools/nvfp4 demo "$@"
