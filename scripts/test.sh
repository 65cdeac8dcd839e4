#!/usr/bin/env bash
# The whole test suite: set-up, Release build, every ctest label (unit, properties, exhaustive,
# golden, fuzz replay, ...). This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset default >/dev/null
cmake --build --preset default
ctest --preset default -j "$(nproc)"
