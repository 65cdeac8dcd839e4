#!/usr/bin/env python3
"""engines/vllm_model.py: vLLM's own model class for make-checkpoint's checkpoints, on the CPU.

For a dense ModelOpt and an expert compressed-tensors checkpoint: the adapter builds vLLM's
LlamaForCausalLM / Qwen3MoeForCausalLM, the class's own load_weights puts every checkpoint tensor
where the expected values (read from the safetensors here, fused by concatenation) say, and a
reload through vLLM's layerwise reload reproduces the cold state. Needs the release's venv
(scripts/engine_env.sh); exit 77 (ctest SKIP) where there is none.

    engine_vllm_model_test.py SOURCE_DIR NVFP4 vllm==VERSION
"""
import os
import subprocess
import sys
import tempfile


def python_of(root, spec):
    r = subprocess.run(["bash", f"{root}/scripts/engine_env.sh", spec], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def expected(ckpt):
    """name in the model -> tensor it must hold after load_weights, from the checkpoint alone."""
    import torch
    from engines.model import read_checkpoint
    _, t = read_checkpoint(ckpt)
    want = {n: t[n] for n in ("lm_head.weight", "model.norm.weight", "model.embed_tokens.weight",
                              "model.layers.0.input_layernorm.weight")}
    a, m = "model.layers.0.self_attn", "model.layers.0.mlp"
    if f"{a}.q_proj.weight" in t:  # ModelOpt: packed rows of q, k, v stacked in that order
        want[f"{a}.qkv_proj.weight"] = torch.cat([t[f"{a}.{s}_proj.weight"] for s in "qkv"])
        want[f"{m}.gate_up_proj.weight"] = torch.cat([t[f"{m}.gate_proj.weight"], t[f"{m}.up_proj.weight"]])
    else:  # compressed-tensors experts: w13 = [gate; up] per expert, the router as on disk
        want[f"{a}.qkv_proj.weight_packed"] = torch.cat([t[f"{a}.{s}_proj.weight_packed"] for s in "qkv"])
        want[f"{m}.gate.weight"] = t[f"{m}.gate.weight"]
        for e in range(2):
            x = f"{m}.experts.{e}"
            want[(f"{m}.experts", "w13_weight_packed", e)] = torch.cat(
                [t[f"{x}.gate_proj.weight_packed"], t[f"{x}.up_proj.weight_packed"]])
            want[(f"{m}.experts", "w2_weight_packed", e)] = t[f"{x}.down_proj.weight_packed"]
    return want


def held(model, key):
    if isinstance(key, str):
        return model.get_parameter(key).data
    experts, name, e = key
    # the experts' parameters sit under the release's own module path (routed_experts in 0.33.0)
    [p] = [p for n, p in model.named_parameters() if n.startswith(experts) and n.endswith("." + name)]
    return p.data[e]


def check(adapter, nvfp4, work, name, args, cls):
    import torch
    from engines import state
    from engines.model import read_checkpoint
    ckpt = os.path.join(work, name)
    subprocess.run([nvfp4, "make-checkpoint", ckpt, "--layers", "1", "--head-dim", "16", "--jobs", "1"] + args,
                   check=True, capture_output=True)
    conf, weights = read_checkpoint(ckpt)
    model = adapter.build_model(conf)
    assert type(model).__name__ == cls, type(model)
    adapter.load_weights(model, list(weights.items()))  # the class's own loader, before processing
    for key, want in expected(ckpt).items():
        got = held(model, key)
        assert got.dtype == want.dtype and torch.equal(got, want), f"{name}: {key} differs from the checkpoint"
    cold = adapter.build_model(conf)
    adapter.cold_load(cold, list(weights.items()))
    before = state.capture(cold)
    adapter.reload(cold, list(weights.items()))  # layerwise reload: needs the recorded metadata
    after = state.capture(cold)
    assert state.first_difference(before, after) is None, state.first_difference(before, after)
    assert state.identity_change(before, after) is None, state.identity_change(before, after)


def checks(nvfp4):
    from engines import vllm
    adapter = vllm.Adapter("cutlass")
    with tempfile.TemporaryDirectory(prefix="nvfp4-vllm-model-") as work:
        check(adapter, nvfp4, work, "dense", ["--hidden", "64", "--intermediate", "64"], "LlamaForCausalLM")
        check(adapter, nvfp4, work, "experts", ["--hidden", "128", "--intermediate", "64", "--experts", "2",
                                                "--format", "compressed-tensors"], "Qwen3MoeForCausalLM")
    print("engine vllm model: every check holds")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--in-env":
        sys.path.insert(0, ".")  # the source tree (cwd): engines/
        checks(sys.argv[2])
        return 0
    root, nvfp4, spec = sys.argv[1:4]
    py = python_of(root, spec)
    if py is None:
        print(f"SKIPPED: no environment for {spec}")
        return 77
    return subprocess.run([py, __file__, "--in-env", nvfp4], cwd=root).returncode


if __name__ == "__main__":
    sys.exit(main())
