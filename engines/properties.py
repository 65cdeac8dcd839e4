"""The properties, run on one checkpoint spec, one engine release, one backend, one memory mode,
over the engine's own model class (adapter.build_model) loaded by its own load_weights.

  loaded-slots   after the model's load_weights and before processing, every slot of every
                 per-shard parameter holds the checkpoint's value (fused on disk: the one scalar
                 fills every slot); what each slot must hold comes from the checkpoint's names
                 (model.scalar_loads), not from the engine's calls
  cold-diff      cold load + processing: `nvfp4 diff` holds (findings classes aside, findings.py)
  reload-same    a reload of the same checkpoint leaves the state byte-identical
  reload-other   reload B (same shapes, other weights and scales) equals a cold load of B, and
                 reloading A after it equals cold A (a tensor the reload cannot reach shows here:
                 what the engine's loader does with it is the engine's behaviour; the failure
                 names it, hooks.Reach)
  identity       every parameter and buffer keeps its object and storage address across reloads,
                 none deleted, rebound or added (graph-captured kernels hold them)
Each failure is a dict: property, step, parameter, index, expected, actual (and detail).
"""
import json
import os
import subprocess
import sys
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from dump_engine_state import dump_model  # noqa: E402

from . import findings, hooks, model as ckpt, specs, state  # noqa: E402

PROPERTIES = ("loaded-slots", "cold-diff", "reload-same", "reload-other", "identity")
_DIFF_BACKEND = {"flashinfer_trtllm": "trtllm"}  # diff's own name for it
_SLOT = {"q": 0, "k": 1, "v": 2, 0: 0, 1: 1, "w1": 0, "w3": 1}


def failure(prop, step, parameter, index=None, expected=None, actual=None, detail=""):
    return {"property": prop, "step": step, "parameter": parameter, "index": index,
            "expected": expected, "actual": actual, "detail": detail}


def _slots(t, slot):
    """Flat indices a scalar with this shard id is loaded into."""
    if slot is None:
        return range(t.numel())  # fused on disk: one scalar for every shard's slot
    if isinstance(slot, tuple):
        e, s = slot
        return [e * 2 + _SLOT[s]] if t.dim() == 2 else [e]
    return [_SLOT[slot]]


OVERWRITTEN = "every slot written, but one shard's value overwrote the other's"


def _expert_rows(loads, snap):
    """(name, expert) -> the values loaded into that expert's row of a [E, 2] scalar parameter."""
    rows = {}
    for name, slot, want in loads:
        t = snap[name].data if name in snap else None
        if isinstance(slot, tuple) and t is not None and t.dim() == 2 and t.numel() <= 64:
            rows.setdefault((name, slot[0]), []).append(float(t.new_tensor([want]).float()[0]))
    return rows


def _row_failure(name, e, t, wants):
    # The row holds the loaded values in either order: a release may store [up, gate]
    # (sglang 0.5.10.post1's trtllm, modelopt_quant.py:1707@0.5.10.post1); gate-half-uses-up-scale
    # is cold-diff's to judge.
    got = [state.value(t, e * 2 + k) for k in range(2)]
    if sorted(got) == sorted(wants):
        return None
    i = next(k for k in range(2) if got[k] not in wants or got.count(got[k]) > wants.count(got[k]))
    why = OVERWRITTEN if all(g in wants for g in got) else "slot never written by the engine's weight_loader"
    return failure("loaded-slots", "cold load, before processing", name, e * 2 + i, sorted(wants)[i], got[i], why)


def loaded_slots(loads, snap):
    """`loads`: (parameter, slot, value) of every scalar on disk (model.scalar_loads, from the
    checkpoint's names); `snap`: the state after the model's load_weights, before processing."""
    loads = [(ckpt.resolve(n, snap) or n, slot, v) for n, slot, v in loads]
    out, rows = [], _expert_rows(loads, snap)
    for (name, e), wants in rows.items():
        f = _row_failure(name, e, snap[name].data.float(), wants)
        if f and all(name != o["parameter"] for o in out):
            out.append(f)
    for name, slot, want in loads:
        if name not in snap:
            out.append(failure("loaded-slots", "cold load, before processing", name,
                               detail="the checkpoint has a scalar for it, the model no such parameter"))
            continue
        t = snap[name].data.float()
        if t.numel() > 64 or any(n == name for n, _ in rows):
            continue
        want = float(snap[name].data.new_tensor([want]).float()[0])  # in the parameter's dtype
        for i in _slots(t, slot):
            got = state.value(t, i)
            if got != want:
                out.append(failure("loaded-slots", "cold load, before processing", name, i, want, got,
                                   "slot never written by the engine's weight_loader"))
                break
    return out


def cold_diff(nvfp4, adapter, model, ckpt, dump, w4a16):
    """(failures, finding classes seen, not-run reason or None)."""
    dump_model(model, dump, engine=adapter.engine, backend=adapter.backend, engine_version=adapter.version)
    r = subprocess.run([nvfp4, "diff", ckpt, dump, "--engine", f"{adapter.engine}=={adapter.version}",
                        "--backend", _DIFF_BACKEND.get(adapter.backend, adapter.backend), "--json"], capture_output=True, text=True)
    if r.returncode == 2:
        return [], set(), (r.stderr.strip().splitlines() or ["diff exit 2"])[0]
    if r.returncode == 0:
        return [], set(), None
    report, out, seen = json.loads(r.stdout), [], set()
    for m in report["modules"]:
        if m.get("semantic") == "ok" and m.get("layout") == "ok":
            continue
        classes = findings.classify(m, w4a16)
        if classes:
            seen |= classes
            continue
        mm = (m.get("mismatches") or [{}])[0]
        out.append(failure("cold-diff", "cold load + processing", f"{m['module']}.{mm.get('param', '')}".rstrip("."),
                           mm.get("index"), mm.get("expected"), mm.get("found"),
                           f"semantic {m.get('semantic')}, layout {m.get('layout')}, unexplained {m.get('unexplained')}"))
    return out, seen, None


def _compare(prop, step, want, got, why=""):
    d = state.first_difference(want, got)
    return [] if d is None else [failure(prop, step, d[0], d[1], d[2], d[3], why)]


def _identity(step, before, after):
    d = state.identity_change(before, after)
    return [] if d is None else [failure("identity", step, d[0], detail=d[1])]


def engine_frame(e):
    """file:line of the innermost frame of the engine's (or FlashInfer's) own code that raised."""
    frames = traceback.extract_tb(e.__traceback__)
    inner = [f for f in frames if any(k in f.filename for k in ("/sglang/", "/vllm/", "/flashinfer/"))] or frames
    f = inner[-1]
    return f"{f.filename.split('site-packages/')[-1]}:{f.lineno}"


class _Steps:
    """Names the step in progress, what its reload could not reach and what the engine said while
    loading, so that a failure in it (or an exception the engine raises) is reported with them."""
    PROPERTY = {"cold load A": "cold-diff", "reload A after cold A": "reload-same"}

    def __init__(self):
        self("building the model")

    def __call__(self, step):
        self.step, self.lost, self.said = step, [], []

    def why(self):
        out = [f"the reload could not load the checkpoint's tensor {n}: {w}" for n, w in self.lost[:1]]
        return "; ".join(out + [f"the engine said: {line}" for line in self.said[:1]])

    def failure(self, e):
        # a tensor the reload could not load first, then what the engine's own code raised
        name = self.lost[0][0] if self.lost else ""
        return failure(self.PROPERTY.get(self.step, "reload-other"), self.step, name,
                       detail=(f"{self.why()}; then " if self.why() else "")
                       + f"the engine raised {type(e).__name__}: {e} ({engine_frame(e)})")


class _Reloads:
    """The reloads of one model, each a step: what it could not reach (seen before it), what the
    engine said while loading, then the state."""

    def __init__(self, adapter, model, step):
        self.adapter, self.model, self.step, self.reach = adapter, model, step, hooks.Reach(model)

    def __call__(self, name, weights):
        self.step(name)
        # vLLM's layerwise reload puts back every parameter as built before it loads
        # (model_loader/reload/layerwise.py initialize_layerwise_reload): nothing processing
        # deleted is out of its reach, so only an engine whose reload loads into what processing
        # left (sglang) is asked.
        restores = getattr(self.adapter, "reload_restores_parameters", False)
        self.step.lost = [] if restores else self.reach.lost(self.model, weights)
        with hooks.engine_warnings(self.adapter.engine) as self.step.said:
            self.adapter.reload(self.model, list(weights.items()))
        return state.capture(self.model), self.step.why()


def run_case(adapter, spec_a, spec_b, nvfp4, work, mode):
    """Every property on checkpoints A and B under one memory mode: (failures, findings, not_run)."""
    conf, a = ckpt.read_checkpoint(spec_a)
    _, b = ckpt.read_checkpoint(spec_b)
    fails, seen, not_run, step = [], set(), {}, _Steps()
    with state.memory_mode(mode):
        try:
            step("cold load A")
            model = _build_or_refused(adapter, conf)
            reload = _Reloads(adapter, model, step)
            slots = lambda m: fails.extend(loaded_slots(ckpt.scalar_loads(a), state.capture(m)))  # noqa: E731
            with hooks.after_load(model, slots):
                adapter.cold_load(model, list(a.items()))
            cold_a = state.capture(model)
            w4a16 = not any(n.endswith(("input_scale", "input_global_scale")) for n in a)  # no input scales on disk
            diff_fails, seen, why = cold_diff(nvfp4, adapter, model, spec_a, os.path.join(work, f"dump-{mode}.safetensors"), w4a16)
            fails += diff_fails
            if why:
                not_run["cold-diff"] = why
            same, why = reload("reload A after cold A", a)
            fails += _compare("reload-same", "reload A after cold A", cold_a, same, why)
            fails += _identity("reload A after cold A", cold_a, same)
            step("cold load B")
            other = ckpt.build(adapter, conf)
            adapter.cold_load(other, list(b.items()))
            cold_b = state.capture(other)
            del other
            then_b, why = reload("reload B after A", b)
            fails += _compare("reload-other", "reload B == cold B", cold_b, then_b, why)
            fails += _identity("reload B after A", cold_a, then_b)
            back, why = reload("reload A after B", a)
            fails += _compare("reload-other", "reload A after B == cold A", cold_a, back, why)
            fails += _identity("reload A after B", cold_a, back)
        except specs.Refused:
            raise
        except Exception as e:  # the engine's own code raised on this checkpoint
            fails.append(step.failure(e))
    return fails, seen, not_run


def _build_or_refused(adapter, conf):
    """The engine's model for the checkpoint; specs.Refused where the release itself refuses the
    backend for it while building (a configuration error at startup, not a property to check)."""
    try:
        return ckpt.build(adapter, conf)
    except Exception as e:
        why = getattr(adapter, "refusal", lambda e: None)(e)
        if why is None:
            raise
        raise specs.Refused(why) from e
