#!/usr/bin/env python3
"""engines/ without an engine: the loaded-slots check on a [E, 2] expert scalar, the finding class
it leads to, the checkpoint-name table it checks against, and the spec strategy's unequal-scale draws. Needs torch and hypothesis: run with the
Python of an engine venv (scripts/engine_env.sh); exit 77 (ctest SKIP) where there is none.

    engine_slots_test.py SOURCE_DIR ENGINE==VERSION
"""
import math
import subprocess
import sys
import types


def python_of(root, spec):
    r = subprocess.run(["bash", f"{root}/scripts/engine_env.sh", spec], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def fake_model(name, values, loads):
    """What the checkpoint says must be loaded (`loads`: (expert, shard id, value)) and a snapshot
    holding `values` as the [E, 2] parameter `name`."""
    import torch
    snap = {name: types.SimpleNamespace(data=torch.tensor(values, dtype=torch.float32))}
    return [(name, (e, s), v) for e, s, v in loads], snap


def name_table():
    """engines/model.py's table from the checkpoint's names to parameter and slot, the independent
    truth loaded-slots checks against (expected values written out by hand here)."""
    import torch
    from engines import model
    L = "model.layers.0"
    one = lambda v: torch.tensor(v, dtype=torch.float32)  # noqa: E731
    tensors = {f"{L}.self_attn.q_proj.weight_scale_2": one(0.5), f"{L}.self_attn.k_proj.input_scale": one([0.25]),
               f"{L}.self_attn.v_proj.weight_scale_2": one(2.0), f"{L}.mlp.gate_proj.input_scale": one(3.0),
               f"{L}.mlp.up_proj.weight_scale_2": one(4.0), f"{L}.self_attn.qkv_proj.input_scale": one(5.0),
               f"{L}.mlp.experts.3.gate_proj.weight_scale_2": one(6.0), f"{L}.mlp.experts.3.up_proj.input_scale": one(7.0),
               f"{L}.mlp.experts.12.down_proj.weight_global_scale": one([8.0]), f"{L}.self_attn.o_proj.input_scale": one(9.0),
               f"{L}.self_attn.q_proj.weight": torch.zeros(4, 2, dtype=torch.uint8)}
    assert sorted(model.scalar_loads(tensors), key=str) == sorted([
        (f"{L}.self_attn.qkv_proj.weight_scale_2", "q", 0.5), (f"{L}.self_attn.qkv_proj.input_scale", "k", 0.25),
        (f"{L}.self_attn.qkv_proj.weight_scale_2", "v", 2.0), (f"{L}.mlp.gate_up_proj.input_scale", 0, 3.0),
        (f"{L}.mlp.gate_up_proj.weight_scale_2", 1, 4.0), (f"{L}.self_attn.qkv_proj.input_scale", None, 5.0),
        (f"{L}.mlp.experts.w13_weight_scale_2", (3, "w1"), 6.0), (f"{L}.mlp.experts.w13_input_scale", (3, "w3"), 7.0),
        (f"{L}.mlp.experts.w2_weight_global_scale", (12, "w2"), 8.0), (f"{L}.self_attn.o_proj.input_scale", None, 9.0)],
        key=str), model.scalar_loads(tensors)
    # vLLM >= 0.26.0 keeps the experts one level deeper; a name nobody has resolves to None
    names = {f"{L}.mlp.experts.routed_experts.w13_input_scale", f"{L}.mlp.router.w13_input_scale"}
    assert model.resolve(f"{L}.mlp.experts.w13_input_scale", names) == f"{L}.mlp.experts.routed_experts.w13_input_scale"
    assert model.resolve(f"{L}.mlp.experts.w2_input_scale", names) is None


def checks():
    import torch  # noqa: F401
    from hypothesis import given, settings
    from engines import findings, properties, specs

    g, u = 0.5, 0.625  # exact in f32: the expected values need no rounding argument
    name = "model.layers.0.mlp.experts.w13_input_scale"
    loads = [(0, "w1", g), (0, "w3", u)]
    ok_order = properties.loaded_slots(*fake_model(name, [[g, u]], loads))
    assert ok_order == [], ok_order
    # sglang 0.5.10.post1's trtllm stores [up, gate]: every value arrived, no loaded-slots failure
    swapped = properties.loaded_slots(*fake_model(name, [[u, g]], loads))
    assert swapped == [], swapped
    # the last loaded value in both slots: the gate's lost; the expert-input-scale-last-wins class
    [lost] = properties.loaded_slots(*fake_model(name, [[u, u]], loads))
    assert (lost["index"], lost["expected"], lost["actual"]) == (0, g, u), lost
    assert findings.classify_failure("vllm", "modelopt", lost) == "expert-input-scale-last-wins"
    # the same on the weight's global scale is no class: a lost global scale is a real failure
    [other] = properties.loaded_slots(*fake_model(name.replace("input", "weight"), [[u, u]], loads))
    assert findings.classify_failure("vllm", "modelopt", other) is None
    # a slot nobody wrote (NaN) is never a class
    [unwritten] = properties.loaded_slots(*fake_model(name, [[math.nan, u]], loads))
    assert unwritten["index"] == 0 and "never written" in unwritten["detail"], unwritten
    assert findings.classify_failure("vllm", "modelopt", unwritten) is None

    # the strategy never draws what make-checkpoint refuses (fused with unequal scales), and
    # draws unequal scales on unfused checkpoints with and without experts
    drawn = set()

    @settings(max_examples=300, database=None, deadline=None)
    @given(specs.specs())
    def draws(spec):
        assert not (spec.unequal and spec.layout == "fused"), spec
        drawn.add((spec.unequal, spec.experts > 0))
    draws()
    assert (True, True) in drawn and (True, False) in drawn, drawn
    # the probes run first: a linear and an expert checkpoint with unequal shard scales
    assert {(p.unequal, p.experts > 0, p.layout) for p in specs.PROBES} == {(True, False, "unfused"), (True, True, "unfused")}
    name_table()
    # a scalar on disk whose parameter the model lacks is a failure, never skipped
    [absent] = properties.loaded_slots([(name, (0, "w1"), g)], {})
    assert absent["parameter"] == name and "no such parameter" in absent["detail"], absent
    print("engine slots: every check holds")


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--in-env":
        sys.path.insert(0, ".")  # the source tree (cwd): engines/
        checks()
        return 0
    root, spec = sys.argv[1:3]
    py = python_of(root, spec)
    if py is None:
        print(f"SKIPPED: no environment for {spec}")
        return 77
    return subprocess.run([py, __file__, "--in-env"], cwd=root).returncode


if __name__ == "__main__":
    sys.exit(main())
