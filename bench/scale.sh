#!/usr/bin/env bash
# Real checkpoint sizes: builds dense H=4096/I=14336 checkpoints of about 0.5, 2 and 8 GB
# and a 64-expert MoE with `nvfp4 make-checkpoint`, then records wall time and peak RSS
# (/usr/bin/time -v) of make-checkpoint, verify (cutlass and trtllm), process and gemm on each, and
# writes bench/scale.md (appended to RESULTS.md by report.py). About 25 minutes on 2 cores.
#   bench/scale.sh [WORKDIR]   (WORKDIR needs ~26 GB free: the checkpoints, and process's output beside
#   the 8 GB one, with room for its temporary data file should a plan fall back; default /tmp/nvfp4-scale)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/nvfp4-scale}
bin=build/default/tools/nvfp4
cmake --preset default >/dev/null && cmake --build --preset default --target nvfp4 >/dev/null
mkdir -p "$work"
out=bench/scale.md
tmp=$(mktemp)

measure() {  # label, command... -> "seconds rss_mib" in $work/measured.txt; the command's output goes to $work/last.txt
  # Called directly (never in a subshell) so that a failing step stops the whole run.
  local label=$1; shift
  if ! /usr/bin/time -v "$@" >"$work/last.txt" 2>"$work/time.txt"; then
    echo "scale.sh: $label failed: $*" >&2
    tail -n 5 "$work/last.txt" "$work/time.txt" >&2
    exit 1
  fi
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, a, ":"); s = 0; for (i = 1; i <= length(a); i++) s = s * 60 + a[i]; print s}' "$work/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$work/time.txt")
  echo "$wall $rss" >"$work/measured.txt"
}

row() {  # name, make-checkpoint args...
  local name=$1; shift
  local dir="$work/$name"
  rm -rf "$dir"
  measure make "$bin" make-checkpoint "$dir" "$@"
  read -r mk_s mk_rss <"$work/measured.txt"
  local gb
  gb=$(du -sb "$dir" | awk '{printf "%.2f", $1 / 1e9}')
  measure verify "$bin" verify "$dir"
  read -r vc_s vc_rss <"$work/measured.txt"
  local checks
  checks=$(grep -E "checks (passed|failed)" "$work/last.txt")
  measure verify-trtllm "$bin" verify "$dir" --backend trtllm
  read -r vt_s vt_rss <"$work/measured.txt"
  measure process "$bin" process "$dir" --out "$work/processed.safetensors"
  read -r pr_s pr_rss <"$work/measured.txt"
  rm -f "$work/processed.safetensors"
  local module
  "$bin" inspect "$dir" >"$work/inspect.txt"
  module=$(awk '/gate_up_proj|mlp.experts/ {print $1}' "$work/inspect.txt" | head -1)
  local k=4096 extra=()
  [[ "$module" == *experts* ]] && extra=(--expert 0 --proj w13)
  python3 -c "
import struct, json
x = [0.5] * (4 * $k)
h = json.dumps({'x': {'dtype': 'F32', 'shape': [4, $k], 'data_offsets': [0, 16 * $k]}}).encode()
h += b' ' * ((8 - len(h) % 8) % 8)
open('$work/x.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + struct.pack('<%df' % len(x), *x))"
  measure gemm "$bin" gemm "$dir" --module "$module" "${extra[@]}" --input "$work/x.safetensors" \
                                   --out "$work/y.safetensors" --mode w4a4 --pipeline optimized
  read -r gm_s gm_rss <"$work/measured.txt"
  local per_gb
  per_gb=$(awk -v s="$vc_s" -v g="$gb" 'BEGIN {printf "%.1f", s / g}')
  printf '| %s | %s | %s s, %s MiB | %s s, %s MiB (%s s/GB) | %s s, %s MiB | %s s, %s MiB | %s s, %s MiB | %s |\n' \
    "$name" "$gb" "$mk_s" "$mk_rss" "$vc_s" "$vc_rss" "$per_gb" "$vt_s" "$vt_rss" "$pr_s" "$pr_rss" "$gm_s" "$gm_rss" "$checks" >>"$tmp"
  rm -rf "$dir"
}

row "dense 4 layers" --layers 4 --hidden 4096 --intermediate 14336
row "dense 16 layers" --layers 16 --hidden 4096 --intermediate 14336 --shards 4
row "dense 64 layers" --layers 64 --hidden 4096 --intermediate 14336 --shards 8
row "MoE 64 experts, 4 layers" --layers 4 --hidden 4096 --intermediate 1536 --experts 64 --shards 4

{
  echo "## Real checkpoints: streaming (bench/scale.sh)"
  echo
  echo "Command: \`bench/scale.sh\` on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
       "$(free -g | awk '/Mem:/ {print $2}') GiB, $(date -u +%Y-%m-%d). Wall time and peak RSS from \`/usr/bin/time -v\`;" \
       "verify with its defaults (every core; in both modes one GEMM per M of its default rows, one per kernel path, against the exact oracle: the first and last row of each on every output row of every module and expert, the rows between on the first and last 64; the Eigen cross-check on 128 rows of each;" \
       "2 reloads and a failed one per module); gemm is one w4a4 GEMM of 4 rows on the gate_up (or expert 0 w13) module."
  echo
  echo "| checkpoint | GB | make-checkpoint | verify (cutlass) | verify (trtllm) | process | gemm | verify result |"
  echo "|---|---|---|---|---|---|---|---|"
  cat "$tmp"
} >"$out"
rm -f "$tmp"
cat "$out"
