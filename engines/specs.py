"""Checkpoint specs drawn by Hypothesis, each written by `nvfp4 make-checkpoint`.

Every field is a make-checkpoint flag (`nvfp4 make-checkpoint --help`): fused or unfused on disk
(--layout), ModelOpt or compressed-tensors (--format), odd or aligned sizes (--hidden,
--intermediate: 80 and 48 pad to the engines' 32/128 alignments), GQA (--kv-heads 1 under 4-8
heads), 1-8 experts (--experts), equal or unequal shard scales (--unequal-scales; unfused only, make-checkpoint
refuses it fused), 0-d/[1]/BF16
scalars (--scalars), W4A4 or W4A16 (--w4a16). Choices are listed simplest first, so a failure
shrinks towards the plainest checkpoint that still shows it. Experts use H 128 (FlashInfer's
trtllm shuffle asserts M % 128 == 0 on w2's rows) and I 64 or 128 (both engines refuse a gated
w13 that needs padding off trtllm).
"""
import dataclasses
import shlex
import subprocess

from hypothesis import strategies as st

HEAD_DIM = 16
# The second checkpoint of a reload (same shapes, other weights and scales) is this far in seed.
OTHER_SEED = 1000003


@dataclasses.dataclass(frozen=True)
class Spec:
    layout: str = "unfused"
    fmt: str = "modelopt"
    hidden: int = 64
    intermediate: int = 64
    kv_heads: int = 0
    experts: int = 0
    unequal: bool = False
    scalars: str = "0d"
    w4a16: bool = False
    seed: int = 0

    def args(self, seed=None):
        a = ["--layers", "1", "--hidden", str(self.hidden), "--intermediate", str(self.intermediate),
             "--head-dim", str(HEAD_DIM), "--layout", self.layout, "--format", self.fmt, "--scalars", self.scalars,
             "--seed", str(self.seed if seed is None else seed), "--jobs", "1"]
        heads = self.hidden // HEAD_DIM
        if self.kv_heads:
            a += ["--kv-heads", str(self.kv_heads)]
        elif heads % max(1, heads // 2):
            # make-checkpoint's default is heads / 2 KV heads (generator/checkpoint_writer.cpp
            # add_configs), which for 5 heads (hidden 80) does not divide them: both engines' attention
            # refuses that (vLLM attention.py:329@0.33.0), and no real model has it. No GQA then.
            a += ["--kv-heads", str(heads)]
        if self.experts:
            a += ["--experts", str(self.experts)]
        if self.unequal:
            a.append("--unequal-scales")
        if self.w4a16:
            a.append("--w4a16")
        return a

    def command(self, directory, other=False):
        return shlex.join(["nvfp4", "make-checkpoint", directory] + self.args(self.seed + OTHER_SEED if other else None))


class Refused(Exception):
    """make-checkpoint refused the spec (exit 2): not a checkpoint to check."""


def write(nvfp4, spec, directory, other=False):
    args = spec.args(spec.seed + OTHER_SEED if other else None)
    r = subprocess.run([nvfp4, "make-checkpoint", directory] + args, capture_output=True, text=True)
    if r.returncode == 2:
        raise Refused(r.stderr.strip())
    if r.returncode != 0:
        raise RuntimeError(f"make-checkpoint failed ({r.returncode}): {r.stderr.strip()}")


# Run before any drawn spec (Hypothesis' explicit phase): one linear and one expert checkpoint
# with unequal shard scales, so that the classes only such a checkpoint shows
# (unreconciled-shard-scales, up-half-uses-gate-scale) are seen by every run, not by luck.
PROBES = (Spec(unequal=True), Spec(hidden=128, intermediate=64, experts=2, unequal=True))


# Each field's choices, simplest first: the strategy draws from them and `simpler` walks them back.
EXPERTS = [0, 1, 2, 4, 8]
DENSE_HIDDEN, DENSE_INTERMEDIATE = [64, 80, 128], [64, 48, 128]
EXPERT_HIDDEN, EXPERT_INTERMEDIATE = 128, [64, 128]
LAYOUTS, FORMATS, KV_HEADS, SCALARS = ["unfused", "fused"], ["modelopt", "compressed-tensors"], [0, 1], ["0d", "1d", "bf16"]


@st.composite
def specs(draw, formats=tuple(FORMATS)):
    experts = draw(st.sampled_from(EXPERTS))
    if experts:
        hidden, inter = EXPERT_HIDDEN, draw(st.sampled_from(EXPERT_INTERMEDIATE))
    else:
        hidden, inter = draw(st.sampled_from(DENSE_HIDDEN)), draw(st.sampled_from(DENSE_INTERMEDIATE))
    layout = draw(st.sampled_from(LAYOUTS))
    return Spec(layout=layout,
                fmt=draw(st.sampled_from(list(formats))),
                hidden=hidden, intermediate=inter, kv_heads=draw(st.sampled_from(KV_HEADS)), experts=experts,
                unequal=layout == "unfused" and draw(st.booleans()), scalars=draw(st.sampled_from(SCALARS)),
                w4a16=draw(st.booleans()), seed=draw(st.integers(0, 1 << 16)))


def _valid(s):
    """What `specs` could draw (make-checkpoint refuses the rest)."""
    if s.experts:
        ok = s.hidden == EXPERT_HIDDEN and s.intermediate in EXPERT_INTERMEDIATE
    else:
        ok = s.hidden in DENSE_HIDDEN and s.intermediate in DENSE_INTERMEDIATE
    return ok and not (s.unequal and s.layout != "unfused")


def _earlier(choices, value):
    return choices[:choices.index(value)] if value in choices else []


def simpler(s, formats=tuple(FORMATS)):
    """Specs one step simpler than s (one field moved to an earlier choice), simplest first.

    Hypothesis shrinks what it draws, never an explicit example (PROBES): a probe that fails is
    walked back with these instead, so every failure is reported on the plainest checkpoint that
    still shows it."""
    steps = [dict(experts=e) for e in _earlier(EXPERTS, s.experts) if e]
    if s.experts:
        steps.append(dict(experts=0, hidden=DENSE_HIDDEN[0], intermediate=DENSE_INTERMEDIATE[0]))
    # every other field on its own, in this order; a field's earlier choices first
    choices = {"hidden": [] if s.experts else DENSE_HIDDEN,
               "intermediate": EXPERT_INTERMEDIATE if s.experts else DENSE_INTERMEDIATE,
               "unequal": [False, True], "layout": LAYOUTS, "fmt": [f for f in FORMATS if f in formats],
               "kv_heads": KV_HEADS, "scalars": SCALARS, "w4a16": [False, True]}
    for field, options in choices.items():
        steps += [{field: v} for v in _earlier(options, getattr(s, field))]
    steps += [dict(seed=0)] if s.seed else []
    return [c for c in (dataclasses.replace(s, **d) for d in steps) if _valid(c)]


def shrink(spec, still_fails, formats=tuple(FORMATS)):
    """The plainest spec reached from `spec` by `simpler` steps on which still_fails(candidate)
    holds (greedy: the first simpler candidate that still fails is taken, then again from it)."""
    progress = True
    while progress:
        progress = False
        for candidate in simpler(spec, formats):
            if still_fails(candidate):
                spec, progress = candidate, True
                break
    return spec
