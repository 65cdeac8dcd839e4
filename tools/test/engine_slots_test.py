#!/usr/bin/env python3
"""engines/ without an engine: the loaded-slots check on a [E, 2] expert scalar, the finding class
it leads to, and the spec strategy's unequal-scale draws. Needs torch and hypothesis: run with the
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
    """A model whose snapshot holds `values` as the [E, 2] parameter `name`, loaded with `loads`:
    (expert, shard id, value) as the harness records them."""
    import torch
    snap = {name: types.SimpleNamespace(data=torch.tensor(values, dtype=torch.float32))}
    model = types.SimpleNamespace(scalar_loads=[(name, (e, s), v) for e, s, v in loads])
    return model, snap


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
