#!/usr/bin/env bash
# Regenerates the seed part of corpus/<target>/ from fuzz/make_seed_corpus, naming each file by
# the sha1 of its content (OSS-Fuzz/BoringSSL convention). Inputs found by fuzzing campaigns are
# added the same way: copy them in as corpus/<target>/$(sha1sum < file).
set -euo pipefail
build=${1:-build/default}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/fuzz/make_seed_corpus" "$tmp"
for dir in "$tmp"/*/; do
  target=$(basename "$dir")
  mkdir -p "$root/corpus/$target"
  for f in "$dir"*; do
    cp "$f" "$root/corpus/$target/$(sha1sum < "$f" | cut -d' ' -f1)"
  done
  echo "$target: $(ls "$root/corpus/$target" | wc -l) inputs"
done
