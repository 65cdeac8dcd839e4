"""pipeline_golden.py's source checkpoints: the logical weights and scales of one set, drawn from its
seed, written by safetensors' own writer as ModelOpt or compressed-tensors, and what a loader decodes."""
import json
import os

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

from pipeline_layouts import E4M3, F32

HEAD_DIM = 16


def random_scales(rng, shape):
    return rng.integers(0x20, 0x7F, size=shape, dtype=np.uint8)  # positive, normal, never NaN


def rand_pos(rng, lo, hi):
    return F32(rng.uniform(lo, hi))


THREE_CODES = np.array([0, 3, 5, 7, 11, 13, 15], dtype=np.uint8)      # E2M1 0, +-1.5, +-3, +-6: 3 * 2^k
POW2_SCALES = np.array([0x30, 0x38, 0x40], dtype=np.uint8)             # E4M3 0.5, 1, 2


def source(rng, rows, cols, mid):
    """One projection's packed weight and block scales; in a "mid" set, column 0's codes are 3 * 2^k
    (or zero) and block 0's scales powers of two, so one activation in column 0 gains exactly one bit."""
    w = rng.integers(0, 256, (rows, cols // 2), dtype=np.uint8)
    sc = random_scales(rng, (rows, cols // 16))
    if mid:
        w[:, 0] = (w[:, 0] & 0xF0) | rng.choice(THREE_CODES, rows)
        sc[:, 0] = rng.choice(POW2_SCALES, rows)
    return w, sc


def s2_value(rng, mid):
    # Powers of two in a "mid" set: reconciling onto the max then keeps block scales powers of two.
    return F32(2.0 ** -int(rng.integers(11, 14))) if mid else rand_pos(rng, 1e-4, 4e-4)


def build(rng, st):
    """Logical sources: {prefix: dict(weight, weight_scale, s2, input)}; every shard, expert and half
    has its own weight and input scale, so the max of each reduction sits where the draw puts it."""
    H, I, mid = st["H"], st["I"], st["mid"]
    Q, KV = st["heads"] * HEAD_DIM, st["kv_heads"] * HEAD_DIM
    src = {}
    a = "model.layers.0.self_attn."
    for p, rows in (("q_proj", Q), ("k_proj", KV), ("v_proj", KV)):
        w, sc = source(rng, rows, H, mid)
        src[a + p] = dict(weight=w, weight_scale=sc, s2=s2_value(rng, mid), input=rand_pos(rng, 1e-3, 4e-3))
    w, sc = source(rng, 2 * st["GU"], H, mid)
    src["model.layers.0.mlp.gate_up_proj"] = dict(weight=w, weight_scale=sc, s2=s2_value(rng, mid), input=rand_pos(rng, 1e-3, 4e-3))
    for e in range(st["E"]):
        x = f"model.layers.1.mlp.experts.{e}."
        for p, (rows, cols) in (("gate_proj", (I, H)), ("up_proj", (I, H)), ("down_proj", (H, I))):
            w, sc = source(rng, rows, cols, mid)
            src[x + p] = dict(weight=w, weight_scale=sc, s2=s2_value(rng, mid), input=rand_pos(rng, 1e-3, 4e-3))
    return src


def write_checkpoint(d, src, ct, files, st):
    H = st["H"]
    os.makedirs(d, exist_ok=True)
    tensors = {"model.embed_tokens.weight": np.ones((8, H), dtype=ml_dtypes.bfloat16)}
    for p, t in src.items():
        if ct:
            tensors[p + ".weight_packed"] = t["weight"]
            tensors[p + ".weight_scale"] = t["weight_scale"].view(E4M3)
            tensors[p + ".weight_global_scale"] = np.array([F32(1) / t["s2"]], dtype=F32)
            tensors[p + ".input_global_scale"] = np.array([F32(1) / t["input"]], dtype=F32)
        else:
            tensors[p + ".weight"] = t["weight"]
            tensors[p + ".weight_scale"] = t["weight_scale"].view(E4M3)
            tensors[p + ".weight_scale_2"] = np.array(t["s2"], dtype=F32)
            tensors[p + ".input_scale"] = np.array(t["input"], dtype=F32)
    cfg = {"hidden_size": H, "num_attention_heads": st["heads"], "num_key_value_heads": st["kv_heads"], "head_dim": HEAD_DIM}
    if ct:
        cfg["quantization_config"] = {"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
                                      "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float", "group_size": 16},
                                                                    "targets": ["Linear"]}},
                                      "ignore": ["model.embed_tokens"]}
    else:
        with open(os.path.join(d, "hf_quant_config.json"), "w") as f:
            json.dump({"producer": {"name": "modelopt"}, "quantization": {"quant_algo": "NVFP4", "group_size": 16,
                                                                            "exclude_modules": ["model.embed_tokens"]}}, f)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    names = sorted(tensors)
    if files == 1:
        save_file(tensors, os.path.join(d, "model.safetensors"))
        return
    weight_map = {}
    for i in range(files):
        fname = f"model-{i + 1:05d}-of-{files:05d}.safetensors"
        part = {n: tensors[n] for n in names[i::files]}
        save_file(part, os.path.join(d, fname))
        weight_map.update({n: fname for n in part})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)


def decoded(src, ct):
    """What a loader sees: compressed-tensors encode scales are inverted back in f32."""
    out = {}
    for p, t in src.items():
        d = dict(t)
        if ct:
            d["s2"] = F32(1) / (F32(1) / t["s2"])
            d["input"] = F32(1) / (F32(1) / t["input"])
        out[p] = d
    return out
