"""The expected post-processing of pipeline_golden.py's checkpoints, as the engines define it: the
parameters both pipelines must write, and the logical operands of each GEMM."""
import numpy as np

from pipeline_layouts import E4M3, F32, reconcile, rup, shuffle_rows, swizzle, unpack, w31_rows


def process(src, backend, st):
    """Expected post-processed parameters {module.param: ndarray} and logical GEMM operands."""
    exp, logical = {}, {}
    process_linear(src, exp, logical)
    process_experts(src, backend, st, exp, logical)
    return exp, logical


def process_linear(src, exp, logical):
    """The linear modules (cutlass whatever the backend): fused shards reconciled onto their max."""
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


def process_experts(src, backend, st, exp, logical):
    """The MoE layer: gate and up of each expert reconciled onto their max, the per-expert and
    layer-wide scalars, then the backend's layout of weights and block scales."""
    E = st["E"]
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
        trtllm_experts(exp, m, st, (w13, w13_sc, w2, w2_sc))
        exp[m + ".g1_scale_c"] = (F32(1) / F32(in2)) * g1
    for e, p in enumerate(px):
        logical[f"{m}/{e}/w13"] = dict(codes=unpack(w13[e]), scales=w13_sc[e], global_scale=F32(common[e]),
                                       alpha=g1[e], gs=F32(1) / F32(in13))
        logical[f"{m}/{e}/w2"] = dict(codes=unpack(w2[e]), scales=w2_sc[e], global_scale=src[p + "down_proj"]["s2"],
                                      alpha=g2[e], gs=F32(1) / F32(in2))


def trtllm_experts(exp, m, st, stacked):
    """trtllm's layout: [w3; w1] with each half padded to a multiple of 64 rows, w2's K padded the
    same, rows shuffled, block scales shuffled alike and then swizzled."""
    H, I, E = st["H"], st["I"], st["E"]
    w13, w13_sc, w2, w2_sc = stacked
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
