#!/bin/bash -eu
# Builds every fuzz target with the builder's $CXX, $CXXFLAGS and $LIB_FUZZING_ENGINE (libFuzzer,
# AFL++ or honggfuzz) and puts next to each in $OUT its seed corpus (corpus/<target>/ zipped), its
# dictionary (fuzz/dict/) and its max_len (fuzz/max_len.txt), the OSS-Fuzz layout.
# Locally: SRC=$PWD/.. OUT=/tmp/out CXX=clang++ CXXFLAGS="-fsanitize=address,fuzzer-no-link" \
#          LIB_FUZZING_ENGINE=-fsanitize=fuzzer .clusterfuzzlite/build.sh
src=${SRC}/nvfp4
build=${WORK:-/tmp}/nvfp4-build
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNVFP4_BUILD_BENCH=OFF \
  -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_CXX_FLAGS="$CXXFLAGS" -DLIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"
targets=$(sed -n 's/^\([a-z_]*\) [0-9]*$/\1/p' "$src/fuzz/max_len.txt")
cmake --build "$build" --target $(for t in $targets; do printf '%s_fuzzer ' "$t"; done)
while read -r t n; do
  case "$t" in ''|\#*) continue ;; esac
  cp "$build/fuzz/${t}_fuzzer" "$OUT/"
  (cd "$src/corpus/$t" && zip -q -r "$OUT/${t}_fuzzer_seed_corpus.zip" .)
  [ ! -f "$src/fuzz/dict/$t.dict" ] || cp "$src/fuzz/dict/$t.dict" "$OUT/${t}_fuzzer.dict"
  printf '[libfuzzer]\nmax_len = %s\n' "$n" >"$OUT/${t}_fuzzer.options"
done <"$src/fuzz/max_len.txt"
