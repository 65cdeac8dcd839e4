#!/usr/bin/env bash
# The historic replays: two bugs that shipped in released wheels, found again by
# `nvfp4 engine-check` on the releases' own code, and gone in the next release.
#   vLLM 0.19.1: fused-on-disk scales fill only slot 0 of a per-shard parameter
#     (model_executor/layers/linear.py:912-915, 1124-1129@0.19.1); 0.20.0 fills every slot.
#   sglang 0.5.10.post1, flashinfer_trtllm experts: processing deletes w13_weight and friends for
#     shuffled copies a reload cannot reach (srt/layers/moe/moe_runner/flashinfer_trtllm.py:279-303
#     @0.5.10.post1); 0.5.11 shuffles in place.
# Exit 0 iff each old release fails its property (naming the parameter) and each next one holds.
#   usage: scripts/engine_replays.sh [NVFP4_BINARY]   (default build/default/tools/nvfp4)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/default/tools/nvfp4}
status=0
# replay SPEC WANT_EXIT MUST_NAME ARGS...: one engine-check run, its exit code and (on failure)
# a pattern every failure's parameter or detail must match.
replay() {
  local spec=$1 want=$2 name=$3 rc=0
  shift 3
  "$bin" engine-check --engine "$spec" --examples 6 --seed 0 --json "$@" >"/tmp/nvfp4-replay-$spec.json" || rc=$?
  if python3 - "/tmp/nvfp4-replay-$spec.json" "$rc" "$want" "$name" <<'PY'; then :; else status=1; fi
import json, re, sys
path, rc, want, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
fails = [f for b in r["backends"] for f in b["failures"]]
modes = sorted({f.get("mode") for f in fails})
ok = rc == want and (want == 0 or (all(re.search(name, f["parameter"] + " " + f["detail"]) for f in fails) and modes == ["garbage", "nan"]))
first = fails[0] if fails else {}
what = (f"{first.get('parameter')}[{first['index']}] expected {first['expected']}, got {first['actual']}"
        if first.get("index") is not None else f"{first.get('parameter')}: {first.get('detail')}")
print(f"{'ok  ' if ok else 'FAIL'} {r['engine']} {r['engine_version']}: exit {rc} (want {want})"
      + (f"; {first['property']} at '{first['step']}': {what} (modes {', '.join(modes)})" if first else "; every property held"))
sys.exit(0 if ok else 1)
PY
}
replay vllm==0.19.1 1 '(qkv_proj|gate_up_proj)\.(weight_scale_2|input_scale)' --backend cutlass --property loaded-slots
replay vllm==0.20.0 0 - --backend cutlass --property loaded-slots
reload=(--backend flashinfer_trtllm --format modelopt --property reload-same --property reload-other --property identity)
replay sglang==0.5.10.post1 1 w13_weight_scale "${reload[@]}"
replay sglang==0.5.11 0 - "${reload[@]}"
exit $status
