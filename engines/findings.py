"""Finding classes: engine behaviour that holds for a whole release, named, with the upstream line.

A class is read off `nvfp4 diff --json` of a cold load: a module that fails only through
`unreconciled` shards (its block scales kept under another shard's global scale, no other
mismatch, nothing unexplained). A run allows a class only when told (`--expect CLASS`); every
other failure, and a class not expected, fails it.
"""

CLASSES = {
    "unreconciled-shard-scales": (
        "a fused linear module applies one global scale (the max) to every shard and keeps each "
        "shard's block scales: a shard whose own scale differs dequantizes off by applied / own",
        ["sglang srt/layers/quantization/modelopt_quant.py:1888@0.5.23 (weight_scale_2.max())",
         "vllm model_executor/layers/quantization/modelopt.py:2093@0.33.0, :1158@0.19.1 (weight_scale_2.max())"]),
    "up-half-uses-gate-scale": (
        "expert backends apply the gate's global scale to the up half of w13",
        ["sglang srt/layers/quantization/modelopt_quant.py:2352@0.5.23 (gate_scale = w13_weight_scale_2[:, 0])",
         "vllm model_executor/layers/quantization/modelopt.py:1063@0.33.0, :1356@0.19.1 (w13_weight_scale_2[:, 0])"]),
    "w4a16-input-scale-unwritten": (
        "a W4A16 checkpoint has no input scales, yet the release's NVFP4 path registers them with "
        "torch.empty and builds alpha (and the experts' g1/g2 alphas) from them: unwritten memory "
        "in every activation scalar",
        ["sglang srt/layers/quantization/modelopt_quant.py (create_weights, input_scale torch.empty) <= 0.5.17 "
         "(docs/engine-releases.md)",
         "vllm model_executor/layers/quantization/modelopt.py:1125-1129@0.19.1 (input_scale torch.empty)"]),
    "ct-reload-unreachable": (
        "sglang's compressed-tensors methods replace loaded parameters by fresh ones without a "
        "weight_loader, or delete them, when processing: a reload cannot load a compressed-tensors "
        "checkpoint into them (update_weights_from_disk raises)",
        ["sglang srt/layers/quantization/compressed_tensors/schemes/compressed_tensors_w4a4_nvfp4.py:96@0.5.23 "
         "(layer.input_global_scale = Parameter(...))",
         "sglang .../schemes/compressed_tensors_w4a4_nvfp4_moe.py:174@0.5.23 (delattr(layer, \"w13_weight_packed\"))"]),
    "expert-input-scale-last-wins": (
        "the experts' loader keeps one input scale per expert (gate and up read the same "
        "activation): w13_input_scale[e] gets each of the gate's and the up's in both slots, the last "
        "loaded wins; a checkpoint whose gate and up input scales differ loses one",
        ["vllm model_executor/layers/fused_moe/layer.py:1031@0.20.0, :960@0.19.1 (_load_single_value: "
         "param_data[expert_id] = loaded_weight, \"should be equal\")",
         "sglang srt/layers/moe/fused_moe_triton/layer.py:535@0.5.10.post1, :1133@0.5.23 (the same)"]),
    "moe-model-drops-fused-qkv": (
        "the engines' Qwen3-MoE load_weights matches its stacked names without dots: a checkpoint storing "
        "qkv_proj fused on disk has \"v_proj\" inside \"qkv_proj\", is renamed to \"qkqkv_proj\" and "
        "skipped without a word, so qkv_proj keeps what create_weights left (dense Llama's dotted "
        "\".v_proj\" loads the same checkpoint)",
        ["sglang srt/models/qwen3_moe.py:1164,1220@0.5.23, :1087,1128@0.5.10.post1 "
         "((\"qkv_proj\", \"v_proj\", \"v\"); name.replace(weight_name, param_name); not in params_dict: continue)",
         "vllm model_executor/models/qwen3_moe.py:536,598@0.20.0, :533,595@0.19.1 (the same; 0.33.0 maps "
         "\".v_proj\" with the dot, :441@0.33.0)"]),
    "gate-half-uses-up-scale": (
        "sglang's ModelOpt flashinfer_trtllm experts (<= 0.5.13) put the up's global scale in the one "
        "alpha the kernel applies to the gate half",
        ["sglang srt/layers/quantization/modelopt_quant.py:1707@0.5.10.post1 (columns [up, gate])"]),
}


_ACTIVATION = ("alpha", "input", "scale_c")
# vLLM's expert kernels take w13/w2_weight_scale_2 as the g1/g2 alphas, the activation's global
# scale folded in (model_executor/layers/fused_moe/oracle/nvfp4.py:429-449@0.20.0).
_EXPERT_ACTIVATION = _ACTIVATION + ("weight_scale_2",)


def _activation_only(module):
    """Every mismatch is in a scalar built from the input scales, and nothing else is off."""
    mm = module.get("mismatches") or []
    keys = _EXPERT_ACTIVATION if module.get("kind") == "experts" else _ACTIVATION
    return (mm and all(any(k in x.get("param", "") for k in keys) for x in mm)
            and all("input_scale" in n or "input_global_scale" in n for n in module.get("unexplained") or [])
            and not module.get("unreconciled"))


# The releases whose Qwen3-MoE loader has the undotted stacked names (read off each venv's
# models/qwen3_moe.py): every sglang release here; vLLM up to 0.20.0 (0.26.0 and 0.28.0 unread).
_UNDOTTED_QWEN3_MOE = {"sglang": None, "vllm": {"0.19.1", "0.20.0"}}


def _drops_fused_qkv(engine, version):
    releases = _UNDOTTED_QWEN3_MOE.get(engine, set())
    return releases is None or version in releases


def classify_failure(engine, fmt, failure, spec=None, version=None):
    """The class of a failure, or None: a compressed-tensors checkpoint sglang's own processing
    left unloadable, an expert's input scale overwritten by its other shard's
    (properties.OVERWRITTEN), or (given the spec) anything on the qkv_proj of an experts
    checkpoint fused on disk, which the release's MoE model never loads."""
    if (_drops_fused_qkv(engine, version) and spec is not None and spec.experts and spec.layout == "fused"
            and ".qkv_proj" in failure.get("parameter", "")):
        return "moe-model-drops-fused-qkv"
    if engine == "sglang" and fmt == "compressed-tensors" and "the reload could not load" in failure.get("detail", ""):
        return "ct-reload-unreachable"
    if (failure["property"] == "loaded-slots" and failure["parameter"].endswith("w13_input_scale")
            and failure.get("detail", "").startswith("every slot written")):
        return "expert-input-scale-last-wins"
    return None


def classify(module, w4a16=False):
    """The finding classes one failing module of diff's JSON shows, or None when its failure is
    anything else (a mismatch, an unexplained tensor, an absent module)."""
    if w4a16 and _activation_only(module):
        return {"w4a16-input-scale-unwritten"}
    if module.get("mismatches") or module.get("unexplained") or not module.get("unreconciled"):
        return None
    seen = set()
    for u in module["unreconciled"]:
        shard = u.get("shard", "")
        if module.get("kind") != "experts":
            seen.add("unreconciled-shard-scales")
        elif "w3" in shard or "up" in shard:
            seen.add("up-half-uses-gate-scale")
        elif "w1" in shard or "gate" in shard:
            seen.add("gate-half-uses-up-scale")
        else:
            return None
    return seen
