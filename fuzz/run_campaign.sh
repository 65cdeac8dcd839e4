#!/usr/bin/env bash
# A fuzzing campaign: builds the `fuzz` preset (clang, libFuzzer, ASan + UBSan), runs each target
# for SECONDS on a copy of its corpus with its dictionary and max_len, then merges what grew the
# coverage back into corpus/<target>/ (sha1-named; -merge=1 into a copy of the committed corpus
# keeps only inputs that add coverage beyond it) and prints one table row per target for FUZZING.md. Crashes land in
# build/fuzz/findings/<target>/ and stop the script with a non-zero status.
#   fuzz/run_campaign.sh SECONDS [target ...]     (default: every target, one after another)
#   JOBS=2 fuzz/run_campaign.sh 600               (two targets at a time)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:?usage: fuzz/run_campaign.sh SECONDS [target ...]}
shift
declare -A max_len=()
while read -r t n; do
  [[ -z "$t" || "$t" == \#* ]] || max_len[$t]=$n
done <fuzz/max_len.txt
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${!max_len[@]}")
for t in "${targets[@]}"; do
  [ -n "${max_len[$t]:-}" ] || { echo "run_campaign: unknown target $t" >&2; exit 2; }
  [ -d "corpus/$t" ] || { echo "run_campaign: corpus/$t/ is missing; every target needs its folder" >&2; exit 2; }
done
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target $(printf '%s_fuzzer ' "${targets[@]}") >/dev/null

one() {
  local t=$1 work=build/fuzz/campaign/$1 out=build/fuzz/findings/$1
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/merged" "$out"
  cp corpus/$t/* "$work/corpus/"
  cp corpus/$t/* "$work/merged/"
  local dict=()
  [ -f fuzz/dict/$t.dict ] && dict=(-dict=fuzz/dict/$t.dict)
  # -max_len caps what the fuzzer makes; replays of longer committed inputs still run in full.
  if ! build/fuzz/fuzz/${t}_fuzzer "$work/corpus" "${dict[@]}" -max_len=$(( ${max_len[$t]} < 65536 ? ${max_len[$t]} : 65536 )) \
       -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -artifact_prefix="$out/" -print_final_stats=1 \
       >"$work/log" 2>&1; then
    echo "run_campaign: $t found a crash: $(ls "$out")" >&2
    tail -40 "$work/log" >&2
    return 1
  fi
  # Into a copy of the committed corpus: only inputs that add coverage beyond it are kept.
  build/fuzz/fuzz/${t}_fuzzer -merge=1 "$work/merged" "$work/corpus" >/dev/null 2>&1 || true
  local added=0
  for f in "$work/merged"/*; do
    [ -f "$f" ] || continue
    [ "$(stat -c %s "$f")" -le 65536 ] || continue
    local name=corpus/$t/$(sha1sum <"$f" | cut -d' ' -f1)
    [ -e "$name" ] || { cp "$f" "$name"; added=$((added + 1)); }
  done
  local execs cov
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
  printf '| %s | %s s | %s | %s | %s | 0 |\n' "$t" "$secs" "$execs" "$cov" "$added"
}
export -f one
export secs
declare -p max_len >build/fuzz/max_len.sh
echo "| target | time | executions | coverage (edges) | inputs added | findings |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${targets[@]}" | xargs -P "${JOBS:-1}" -I{} bash -c 'source build/fuzz/max_len.sh; one {}'
