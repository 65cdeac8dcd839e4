#!/usr/bin/env bash
# The whole test suite: set-up, Release build, every ctest label (unit, properties, exhaustive,
# golden, fuzz replay, ...), then the fuzz corpus replayed once more under clang with ASan + UBSan
# (-fno-sanitize-recover=all): an out-of-bounds read that a Release build survives fails here.
# This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The engine environments the `engines` label needs (engines/ci-releases.txt) are mostly downloads
# and unpacking: make them while the C++ builds. scripts/engine_env.sh is idempotent and holds a
# lock per environment, which the tests wait on; where it cannot make one, the tests say so and skip.
mkdir -p build
while read -r spec; do
  scripts/engine_env.sh "$spec" >/dev/null 2>>build/engine-envs.log &
done < <(grep -E '^[a-z]+==' engines/ci-releases.txt)
cmake --preset default >/dev/null
cmake --build --preset default
ctest --preset default -j "$(nproc)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target $(sed -n 's/^\([a-z_]*\) [0-9]*$/\1_fuzzer/p' fuzz/max_len.txt)
ctest --preset fuzz -j "$(nproc)"
wait  # the environments, long since done
