"""nvfp4.strategies: every drawn spec is one make_checkpoint accepts and writes as asked (modules
by layers and experts, unequal shard scales where drawn), and what it writes passes inspect, and
verify on a few; shard_amaxes are equal or apart by powers of two."""

import math
import shutil

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nvfp4
from nvfp4 import strategies


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.checkpoints())
def test_drawn_checkpoints_are_written_as_specified(written):
    path, spec = written
    try:
        r = nvfp4.inspect(path)
        assert r.passed, [f["line"] for f in r["findings"] if f["level"] == "fail"]
        kinds = [m["kind"] for m in r["modules"]]
        per_layer = 3 if spec["experts"] else 4
        assert len(kinds) == spec["layers"] * per_layer, (spec, kinds)
        assert ("experts" in kinds) == (spec["experts"] > 0)
        assert r["format"] == spec["format"]
    finally:
        shutil.rmtree(path)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.checkpoints(specs=strategies.checkpoint_specs(max_layers=1, max_experts=2, max_hidden=128, max_intermediate=64)))
def test_drawn_checkpoints_verify(written):
    path, spec = written
    try:
        assert nvfp4.verify(path, reloads=1, activation_rows=[1], jobs=1).passed, spec
    finally:
        shutil.rmtree(path)


@given(st.integers(1, 4).flatmap(lambda n: strategies.shard_amaxes(n)))
def test_shard_amaxes_are_equal_or_apart_by_powers_of_two(amaxes):
    ratios = [a / amaxes[0] for a in amaxes]
    assert all(r > 0 and math.log2(r) == round(math.log2(r)) for r in ratios)
