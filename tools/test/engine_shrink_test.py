#!/usr/bin/env python3
"""engines/specs.py's walk back from a failing probe (Hypothesis shrinks only what it draws):
every step is a spec the strategy can draw and is one field simpler, and the walk ends on the
plainest spec the failure needs. Needs hypothesis only (the project's .venv), no engine.

    engine_shrink_test.py SOURCE_DIR
"""
import dataclasses
import sys


def checks():
    from hypothesis import given, settings
    from engines import specs

    # every simpler() candidate is drawable and differs in one field (experts -> dense may move
    # the sizes with it, the only pair the strategy ties together)
    @settings(max_examples=300, database=None, deadline=None)
    @given(specs.specs())
    def steps(spec):
        for c in specs.simpler(spec):
            assert specs._valid(c), c
            moved = {f.name for f in dataclasses.fields(c) if getattr(c, f.name) != getattr(spec, f.name)}
            assert moved and (len(moved) == 1 or moved <= {"experts", "hidden", "intermediate"}), (spec, c)
    steps()

    # vLLM 0.19.1's expand-reload failure needs two experts, nothing else: the expert probe
    # (unequal scales) walks back to a plain two-expert checkpoint
    probe = specs.PROBES[1]
    got = specs.shrink(probe, lambda s: s.experts >= 2)
    assert got == specs.Spec(hidden=128, intermediate=64, experts=2), got
    # a failure that needs compressed-tensors with BF16 scalars, from the most involved spec
    start = specs.Spec(layout="fused", fmt="compressed-tensors", hidden=80, intermediate=48, kv_heads=1,
                       experts=0, scalars="bf16", w4a16=True, seed=5)
    got = specs.shrink(start, lambda s: s.fmt == "compressed-tensors" and s.scalars == "bf16")
    assert got == specs.Spec(fmt="compressed-tensors", scalars="bf16"), got
    # a run limited to one format never walks into the other
    got = specs.shrink(start, lambda s: True, formats=("compressed-tensors",))
    assert got == specs.Spec(fmt="compressed-tensors"), got
    # nothing simpler fails: the spec itself
    assert specs.shrink(probe, lambda s: False) == probe
    print("engine shrink: every check holds")


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    checks()
