#!/usr/bin/env python3
"""End-to-end truth for the reference pipeline, from third-party libraries only.

Writes OUT/pipeline/:
  modelopt/      ModelOpt checkpoint, one file (safetensors' own writer)
  ct/            the same weights as compressed-tensors names, two files + index
  expected_<ckpt>.safetensors   "<backend>/<module>.<param>" -> expected post-processed bytes,
                                "gemm/<case>" -> expected GEMM output
  inputs/<case>.safetensors     tensor `x` for each GEMM case
  manifest.json                 checkpoints, compared parameters and GEMM cases

Everything is computed here independently of the C++ code: block-scale swizzle as vLLM's
reshape/permute, TRT-LLM shuffles from the closed forms of NVFP4-SPEC section 4, E4M3/E2M1
rounding by ml_dtypes, f32 arithmetic by numpy, and GEMM sums exactly with fractions.Fraction,
rounded once (ties to even) into the output dtype.
"""
import json
import os
import sys
from fractions import Fraction

import ml_dtypes
import numpy as np
from safetensors.numpy import save_file

F32 = np.float32
E4M3 = ml_dtypes.float8_e4m3fn
E2M1 = ml_dtypes.float4_e2m1fn
H, I, E = 128, 32, 2          # experts: trtllm pads I to 64; w2's Kb = 2 pads to 4 in the swizzle
Q, KV = 64, 32                # q/k/v rows (GQA), K = H
GU = 48                       # gate_up_proj (fused on disk) rows per shard: N = 96 is not a multiple of 128


def e4m3_val(b):
    return np.asarray(b, dtype=np.uint8).view(E4M3).astype(F32)


def e4m3_satfinite(x):
    return np.clip(np.asarray(x, dtype=F32), F32(-448), F32(448)).astype(E4M3).view(np.uint8)


def e2m1_val(codes):
    return np.asarray(codes, dtype=np.uint8).view(E2M1).astype(F32)


def unpack(packed):
    lo, hi = packed & 0xF, packed >> 4
    return np.stack([lo, hi], axis=-1).reshape(*packed.shape[:-1], packed.shape[-1] * 2)


def rup(x, m):
    return (x + m - 1) // m * m


def swizzle(lin):  # [B, M, K] -> [B, Mp, Kp] (vLLM swizzle_blockscale)
    B, M, K = lin.shape
    Mp, Kp = rup(M, 128), rup(K, 4)
    p = np.zeros((B, Mp, Kp), dtype=np.uint8)
    p[:, :M, :K] = lin
    return p.reshape(B, Mp // 128, 4, 32, Kp // 4, 4).transpose(0, 1, 4, 3, 2, 5).reshape(B, Mp, Kp)


def shuffle_rows(M):  # shuffle_matrix_a, epilogue tile 128 (closed form, NVFP4-SPEC 4.2)
    n = np.arange(M)
    return 32 * (n // 32) + 4 * (n % 8) + (n % 32) // 8


def w31_rows(Mh):  # reorder then shuffle over [w3; w1] halves of Mh rows (closed form, NVFP4-SPEC 4.4)
    r = shuffle_rows(2 * Mh)
    return np.where(r % 2 == 0, r // 2, Mh + (r - 1) // 2)


def reconcile(scales, own, common):
    if own == common:
        return scales.copy()
    return e4m3_satfinite(e4m3_val(scales) * (F32(own) / F32(common)))


def random_scales(rng, shape):
    return rng.integers(0x20, 0x7F, size=shape, dtype=np.uint8)  # positive, normal, never NaN


def rand_pos(rng, lo, hi):
    return F32(rng.uniform(lo, hi))


def build(rng):
    """Logical sources: {prefix: dict(weight, weight_scale, s2, input)}."""
    src = {}
    a = "model.layers.0.self_attn."
    for p, rows in (("q_proj", Q), ("k_proj", KV), ("v_proj", KV)):
        src[a + p] = dict(weight=rng.integers(0, 256, (rows, H // 2), dtype=np.uint8),
                          weight_scale=random_scales(rng, (rows, H // 16)),
                          s2=rand_pos(rng, 1e-4, 4e-4), input=rand_pos(rng, 1e-3, 4e-3))
    src["model.layers.0.mlp.gate_up_proj"] = dict(
        weight=rng.integers(0, 256, (2 * GU, H // 2), dtype=np.uint8), weight_scale=random_scales(rng, (2 * GU, H // 16)),
        s2=rand_pos(rng, 1e-4, 4e-4), input=rand_pos(rng, 1e-3, 4e-3))
    for e in range(E):
        x = f"model.layers.1.mlp.experts.{e}."
        shared_in = rand_pos(rng, 1e-3, 4e-3)
        for p, (rows, cols) in (("gate_proj", (I, H)), ("up_proj", (I, H)), ("down_proj", (H, I))):
            src[x + p] = dict(weight=rng.integers(0, 256, (rows, cols // 2), dtype=np.uint8),
                              weight_scale=random_scales(rng, (rows, cols // 16)),
                              s2=rand_pos(rng, 1e-4, 4e-4),
                              input=shared_in if p != "down_proj" else rand_pos(rng, 1e-3, 4e-3))
    return src


def write_checkpoint(d, src, ct, files):
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
    cfg = {"hidden_size": H, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16}
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


def process(src, backend):
    """Expected post-processed parameters {module.param: ndarray} and logical GEMM operands."""
    exp, logical = {}, {}
    # Linear modules (cutlass whatever the backend).
    a = "model.layers.0.self_attn."
    for module, shards in ((a + "qkv_proj", [a + "q_proj", a + "k_proj", a + "v_proj"]),
                           ("model.layers.0.mlp.gate_up_proj", ["model.layers.0.mlp.gate_up_proj"])):
        common = max(src[s]["s2"] for s in shards)
        in_max = max(src[s]["input"] for s in shards)
        scales = np.concatenate([reconcile(src[s]["weight_scale"], src[s]["s2"], common) for s in shards])
        weight = np.concatenate([src[s]["weight"] for s in shards])
        exp[module + ".weight_scale_interleaved"] = swizzle(scales[None])[0].view(E4M3)
        exp[module + ".alpha"] = np.array(F32(in_max) * F32(common), dtype=F32)
        exp[module + ".input_scale_inv"] = np.array(F32(1) / F32(in_max), dtype=F32)
        exp[module + ".weight_global_scale"] = np.array(common, dtype=F32)
        logical[module] = dict(codes=unpack(weight), scales=scales, global_scale=F32(common),
                               alpha=F32(in_max) * F32(common), gs=F32(1) / F32(in_max))
    # Experts.
    m = "model.layers.1.mlp.experts"
    px = [f"{m}.{e}." for e in range(E)]
    common = [max(src[p + "gate_proj"]["s2"], src[p + "up_proj"]["s2"]) for p in px]
    w13_sc = np.stack([np.concatenate([reconcile(src[p + "gate_proj"]["weight_scale"], src[p + "gate_proj"]["s2"], c),
                                       reconcile(src[p + "up_proj"]["weight_scale"], src[p + "up_proj"]["s2"], c)])
                       for p, c in zip(px, common)])
    w13 = np.stack([np.concatenate([src[p + "gate_proj"]["weight"], src[p + "up_proj"]["weight"]]) for p in px])
    w2 = np.stack([src[p + "down_proj"]["weight"] for p in px])
    w2_sc = np.stack([src[p + "down_proj"]["weight_scale"] for p in px])
    in13 = max(max(src[p + "gate_proj"]["input"], src[p + "up_proj"]["input"]) for p in px)
    in2 = max(src[p + "down_proj"]["input"] for p in px)
    g1 = np.array([F32(in13) * F32(c) for c in common], dtype=F32)
    g2 = np.array([F32(in2) * src[p + "down_proj"]["s2"] for p in px], dtype=F32)
    exp[m + ".g1_alphas"], exp[m + ".g2_alphas"] = g1, g2
    exp[m + ".w13_input_scale_quant"] = np.array(F32(1) / F32(in13), dtype=F32)
    exp[m + ".w2_input_scale_quant"] = np.array(F32(1) / F32(in2), dtype=F32)
    exp[m + ".w13_weight_global_scale"] = np.array(common, dtype=F32)
    if backend == "cutlass":
        exp[m + ".w13_blockscale_swizzled"] = swizzle(w13_sc).view(E4M3)
        exp[m + ".w2_blockscale_swizzled"] = swizzle(w2_sc).view(E4M3)
    else:
        Ip = rup(I, 64)
        w13p = np.zeros((E, 2 * Ip, H // 2), np.uint8)
        sc13p = np.zeros((E, 2 * Ip, H // 16), np.uint8)
        w13p[:, :I], w13p[:, Ip:Ip + I] = w13[:, I:], w13[:, :I]           # [w3; w1], each half padded
        sc13p[:, :I], sc13p[:, Ip:Ip + I] = w13_sc[:, I:], w13_sc[:, :I]
        w2p = np.zeros((E, H, Ip // 2), np.uint8)
        sc2p = np.zeros((E, H, Ip // 16), np.uint8)
        w2p[:, :, :I // 2], sc2p[:, :, :I // 16] = w2, w2_sc
        p13, p2 = w31_rows(Ip), shuffle_rows(H)
        exp[m + ".w13_weight"] = w13p[:, p13]
        exp[m + ".w2_weight"] = w2p[:, p2]
        exp[m + ".w13_weight_scale"] = swizzle(sc13p[:, p13]).view(E4M3)
        exp[m + ".w2_weight_scale"] = swizzle(sc2p[:, p2]).view(E4M3)
        exp[m + ".w13_blockscale_swizzled"] = exp[m + ".w13_weight_scale"]
        exp[m + ".g1_scale_c"] = (F32(1) / F32(in2)) * g1
    for e, p in enumerate(px):
        logical[f"{m}/{e}/w13"] = dict(codes=unpack(w13[e]), scales=w13_sc[e], global_scale=F32(common[e]),
                                       alpha=g1[e], gs=F32(1) / F32(in13))
        logical[f"{m}/{e}/w2"] = dict(codes=unpack(w2[e]), scales=w2_sc[e], global_scale=src[p + "down_proj"]["s2"],
                                      alpha=g2[e], gs=F32(1) / F32(in2))
    return exp, logical


FORMATS = {"F32": (24, -126, 127), "BF16": (8, -126, 127), "F16": (11, -14, 15)}
NP = {"F32": np.float32, "BF16": ml_dtypes.bfloat16, "F16": np.float16}


def round_once(fr, fmt):
    """The exact rational fr rounded once to the nearest value of fmt, ties to even."""
    p, emin, emax = FORMATS[fmt]
    if fr == 0:
        return 0.0
    a = abs(fr)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    q = Fraction(2) ** (max(e, emin) - (p - 1))
    r = round(a / q) * q  # Python rounds Fractions half to even
    if r >= Fraction(2) ** (emax + 1):
        r = float("inf")
    return float(r) if fr > 0 else -float(r)


def quantize_activation(x32, gs):
    M, K = x32.shape
    b = x32.reshape(M, K // 16, 16)
    vmax = np.abs(b).max(axis=-1).astype(F32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sf = np.where(vmax != 0, vmax * (F32(gs) * F32(1.0 / 6.0)), F32(0)).astype(F32)
        S = e4m3_satfinite(sf)
        os_ = np.where(vmax != 0, np.minimum(F32(1) / (e4m3_val(S) * (F32(1) / F32(gs))), np.finfo(F32).max), F32(0)).astype(F32)
        codes = (b * os_[..., None]).astype(F32).astype(E2M1).view(np.uint8).reshape(M, K)
    return codes, S


def gemm(x, w, mode, dtype):
    x32 = x.astype(F32)
    M, K = x32.shape
    N = w["codes"].shape[0]
    wv = e2m1_val(w["codes"]).astype(np.float64)
    ws = np.repeat(e4m3_val(w["scales"]), 16, axis=1).astype(np.float64)
    if mode == "w4a16":
        xs = [[Fraction(float(v)) for v in row] for row in x32]
        wf = [[Fraction(float(wv[n, k])) * Fraction(float(ws[n, k])) * Fraction(float(w["global_scale"])) for k in range(K)]
              for n in range(N)]
        post = Fraction(1)
    else:
        codes, S = quantize_activation(x32, w["gs"])
        xv = e2m1_val(codes) * np.repeat(e4m3_val(S), 16, axis=1)
        xs = [[Fraction(float(v)) for v in row] for row in xv]
        wf = [[Fraction(float(wv[n, k])) * Fraction(float(ws[n, k])) for k in range(K)] for n in range(N)]
        post = Fraction(float(w["alpha"]))
    y = np.zeros((M, N), dtype=np.float64)
    mag = np.zeros((M, N), dtype=np.float64)
    for i in range(M):
        for n in range(N):
            y[i, n] = round_once(post * sum(a * b for a, b in zip(xs[i], wf[n])), dtype)
            mag[i, n] = float(abs(post) * sum(abs(a * b) for a, b in zip(xs[i], wf[n])))
    # sum |x w| per element (for rounding bounds), as f32 rounded up.
    mag32 = mag.astype(F32)
    mag32 = np.where(mag32.astype(np.float64) < mag, np.nextafter(mag32, F32(np.inf)), mag32).astype(F32)
    return y.astype(NP[dtype]), mag32


def main(out_dir):
    rng = np.random.default_rng(20261122)
    root = os.path.join(out_dir, "pipeline")
    os.makedirs(os.path.join(root, "inputs"), exist_ok=True)
    src = build(rng)
    cases = [  # name, module, expert, proj, mode, dtype
        ("qkv_w4a16_f32", "model.layers.0.self_attn.qkv_proj", -1, "", "w4a16", "F32"),
        ("qkv_w4a4_bf16", "model.layers.0.self_attn.qkv_proj", -1, "", "w4a4", "BF16"),
        ("gate_up_w4a4_f16", "model.layers.0.mlp.gate_up_proj", -1, "", "w4a4", "F16"),
        ("expert1_w13_w4a4_f32", "model.layers.1.mlp.experts", 1, "w13", "w4a4", "F32"),
        ("expert0_w2_w4a16_bf16", "model.layers.1.mlp.experts", 0, "w2", "w4a16", "BF16"),
    ]
    inputs = {}
    for name, module, e, proj, mode, dtype in cases:
        K = I if proj == "w2" else H
        x = (rng.standard_normal((3, K)) * 2).astype(NP[dtype])
        x[0, :16] = 0  # an all-zero activation block
        inputs[name] = x
        save_file({"x": x}, os.path.join(root, "inputs", name + ".safetensors"))
    manifest = {"checkpoints": {}, "gemm": []}
    posts = {}  # the factor applied after the sum: alpha (w4a4) or the global scale (w4a16)
    for ckpt, ct, files in (("modelopt", False, 1), ("ct", True, 2)):
        write_checkpoint(os.path.join(root, ckpt), src, ct, files)
        dec = decoded(src, ct)
        expected = {}
        for backend in ("cutlass", "trtllm"):
            exp, logical = process(dec, backend)
            for k, v in exp.items():
                expected[f"{backend}/{k}"] = np.array(v, order="C")  # keeps 0-dim scalars 0-dim
            for name, module, e, proj, mode, dtype in cases:
                key = module if e < 0 else f"{module}/{e}/{proj}"
                expected[f"gemm/{backend}/{name}"], expected[f"gemm_abs/{backend}/{name}"] = gemm(inputs[name], logical[key], mode, dtype)
                w = logical[key]
                posts[name] = float(w["global_scale"] if mode == "w4a16" else w["alpha"])
        save_file(expected, os.path.join(root, f"expected_{ckpt}.safetensors"))
        manifest["checkpoints"][ckpt] = sorted(expected)
    manifest["gemm"] = [dict(name=n, module=m, expert=e, proj=p, mode=mo, dtype=d, K=I if p == "w2" else H, post=posts[n])
                        for n, m, e, p, mo, d in cases]
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
