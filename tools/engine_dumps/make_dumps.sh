#!/bin/sh
# Regenerates tools/engine_dumps/data/: small checkpoints written by `nvfp4 make-checkpoint`, and
# for each the dumps sglang's and vLLM's own loaders and post-processing produce (generate.py).
# Needs a Python with torch, sglang 0.5.23 and vLLM 0.33.0 (README.md here says how), and for each
# older sglang release a Python with that release (OLDER_SGLANG_PYTHON), and for each older vLLM
# release one with that release (the environment's OLDER_VLLM_PYTHONS, space-separated); CI only
# reads the committed files.
#   usage: [OLDER_VLLM_PYTHONS="PY..."] make_dumps.sh NVFP4_BINARY PYTHON [OLDER_SGLANG_PYTHON...]
set -eu
bin=$1 py=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
out=$here/data
rm -rf "$out" && mkdir -p "$out"
small="--layers 1 --hidden 64 --intermediate 64 --head-dim 16"
"$bin" make-checkpoint "$out/dense" $small --seed 1 >/dev/null                     # aligned shapes, equal shard scales
"$bin" make-checkpoint "$out/unequal" $small --unequal-scales --seed 2 >/dev/null  # every shard its own global scale
"$bin" make-checkpoint "$out/odd" --layers 1 --hidden 80 --intermediate 48 --head-dim 16 --kv-heads 1 --seed 3 >/dev/null  # N, K padded
"$bin" make-checkpoint "$out/fused" $small --layout fused --seed 4 >/dev/null      # q/k/v and gate/up fused on disk
"$bin" make-checkpoint "$out/bf16_scalars" $small --scalars bf16 --seed 15 >/dev/null   # per-tensor scales stored as 0-d BF16
"$bin" make-checkpoint "$out/w4a16" $small --w4a16 --seed 16 >/dev/null                # no input scales
"$bin" make-checkpoint "$out/ct" $small --format compressed-tensors --unequal-scales --seed 8 >/dev/null  # encode scales, each shard its own
"$bin" make-checkpoint "$out/ct_odd" --layers 1 --hidden 80 --intermediate 48 --head-dim 16 --kv-heads 1 --format compressed-tensors --seed 9 >/dev/null
# vLLM's W4A4 path reads the input scales a --w4a16 checkpoint does not have (its config says NVFP4):
# they stay uninitialized (torch.empty) and so does alpha; only sglang's dump (input scales filled
# with 1.0 by create_weights) is kept.
"$py" "$here/generate.py" sglang "$out/w4a16" "$out/w4a16.sglang.safetensors" 2>/dev/null
moe="--layers 1 --hidden 128 --intermediate 64 --head-dim 16 --experts 4"  # H 128: FlashInfer's trtllm needs H % 128 == 0
"$bin" make-checkpoint "$out/moe" $moe --seed 6 >/dev/null
"$bin" make-checkpoint "$out/moe_unequal" $moe --unequal-scales --seed 5 >/dev/null
"$bin" make-checkpoint "$out/ct_moe" $moe --format compressed-tensors --seed 14 >/dev/null
"$bin" make-checkpoint "$out/ct_moe_unequal" $moe --format compressed-tensors --unequal-scales --seed 13 >/dev/null
"$bin" make-checkpoint "$out/moe_odd" --layers 1 --hidden 128 --intermediate 48 --head-dim 16 --experts 4 --seed 7 >/dev/null  # I padded to 64 (trtllm)
for c in dense unequal odd fused bf16_scalars ct ct_odd; do
  for e in sglang vllm; do
    "$py" "$here/generate.py" $e "$out/$c" "$out/$c.$e.safetensors" 2>/dev/null
  done
done
for c in moe moe_unequal ct_moe ct_moe_unequal; do
  for b in flashinfer_cutlass flashinfer_trtllm; do
    "$py" "$here/generate.py" sglang "$out/$c" "$out/$c.sglang.$b.safetensors" $b 2>/dev/null
  done
done
for c in moe moe_unequal ct_moe ct_moe_unequal; do
  for b in cutlass flashinfer_cutlass flashinfer_trtllm; do
    "$py" "$here/generate.py" vllm "$out/$c" "$out/$c.vllm.$b.safetensors" $b 2>/dev/null
  done
done
# Both engines refuse gated w13 that needs padding off trtllm (sglang's assertion in
# process_weights_after_loading, vLLM's NotImplementedError in prepare_nvfp4_moe_layer_for_fi_or_cutlass),
# so moe_odd has trtllm dumps only.
for e in sglang vllm; do
  "$py" "$here/generate.py" $e "$out/moe_odd" "$out/moe_odd.$e.flashinfer_trtllm.safetensors" flashinfer_trtllm 2>/dev/null
done
# Older sglang releases: the cases their rows in tools/diff/conventions_sglang*.cpp were checked on,
# named CASE.sglang-VERSION[.MOE_BACKEND] (the version the venv has installed).
for opy in "$@"; do
  v=$("$opy" -c 'import importlib.metadata as m; print(m.version("sglang"))')
  for c in dense fused; do
    "$opy" "$here/generate.py" sglang "$out/$c" "$out/$c.sglang-$v.safetensors" 2>/dev/null
  done
  for c in moe moe_unequal ct_moe; do
    for b in flashinfer_cutlass flashinfer_trtllm; do
      "$opy" "$here/generate.py" sglang "$out/$c" "$out/$c.sglang-$v.$b.safetensors" $b 2>/dev/null
    done
    # The plain cutlass runner: a release that refuses it for this checkpoint (ModelOpt: every one
    # but 0.5.10.post1 and 0.5.15-0.5.15.post1) raises while building the layer and writes nothing.
    "$opy" "$here/generate.py" sglang "$out/$c" "$out/$c.sglang-$v.cutlass.safetensors" cutlass 2>/dev/null ||
      rm -f "$out/$c.sglang-$v.cutlass.safetensors"
  done
done
# Older vLLM releases: the cases their rows in tools/diff/conventions_vllm.cpp were checked on,
# named CASE.vllm-VERSION[.MOE_BACKEND]; moe_odd (trtllm only, as above) from 0.26.0: up to 0.25.1
# vLLM pads I = 48 to 48 and fails FlashInfer's M % 128 assertion in the trtllm shuffle.
for opy in ${OLDER_VLLM_PYTHONS:-}; do
  v=$("$opy" -c 'import importlib.metadata as m; print(m.version("vllm"))')
  for c in dense odd ct_odd fused ct; do
    "$opy" "$here/generate.py" vllm "$out/$c" "$out/$c.vllm-$v.safetensors" 2>/dev/null
  done
  for c in moe ct_moe moe_unequal; do
    for b in cutlass flashinfer_cutlass flashinfer_trtllm; do
      "$opy" "$here/generate.py" vllm "$out/$c" "$out/$c.vllm-$v.$b.safetensors" $b 2>/dev/null
    done
  done
  case $v in
    0.19.*|0.2[0-5].*) ;;
    *) "$opy" "$here/generate.py" vllm "$out/moe_odd" "$out/moe_odd.vllm-$v.flashinfer_trtllm.safetensors" flashinfer_trtllm 2>/dev/null ;;
  esac
done
