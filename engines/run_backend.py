"""One engine release and one backend, in this process: Hypothesis draws checkpoint specs and
every property runs on each; the result is one JSON object (written to --out).

A drawn spec runs under the NaN memory mode first and stops at its first unexpected failure (so
shrinking stays cheap); the smallest failing spec Hypothesis finds is then run again under both
modes, and that is what the result reports. Hypothesis never shrinks an explicit example (the
probes, specs.PROBES): a failing probe is walked back field by field (specs.simpler) to the
plainest spec that still fails the same property on the same parameter.
"""
import argparse
import json
import os
import tempfile

# Hypothesis keeps a directory of its own (even with no example database): not in the source tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "nvfp4-engines-hypothesis"))

from hypothesis import HealthCheck, Phase, example, given, reject, seed, settings  # noqa: E402

from . import stubs  # noqa: F401 (first: its environment must precede the engines' imports)
from . import findings, properties, specs, state  # noqa: E402


class Unexpected(Exception):
    def __init__(self, spec, failures):
        super().__init__(f"{len(failures)} failure(s)")
        self.spec, self.failures = spec, failures


def _adapter(engine, backend):
    if engine == "sglang":
        from .sglang import Adapter
    else:
        from .vllm import Adapter
    return Adapter(backend)


class Runner:
    def __init__(self, adapter, nvfp4, expect, props):
        self.adapter, self.nvfp4, self.expect, self.props = adapter, nvfp4, set(expect), set(props)
        self.examples, self.refused, self.seen, self.not_run = 0, 0, set(), {}
        self.refusals = set()  # why, one line each (make-checkpoint's, the release's own, no CPU path)

    def case(self, spec, modes):
        """Failures not allowed, over the given memory modes (each a dict with 'mode' and 'command')."""
        why = getattr(self.adapter, "cpu_cannot", lambda spec: None)(spec)
        if why:
            raise specs.Refused(why)
        with tempfile.TemporaryDirectory(prefix="nvfp4-engines-") as work:
            a, b = os.path.join(work, "a"), os.path.join(work, "b")
            specs.write(self.nvfp4, spec, a)
            specs.write(self.nvfp4, spec, b, other=True)
            out = []
            for mode in modes:
                fails, seen, not_run = properties.run_case(self.adapter, a, b, self.nvfp4, work, mode)
                reload_classes = [findings.classify_failure(self.adapter.engine, spec.fmt, f, spec, self.adapter.version) for f in fails]
                seen |= {c for c in reload_classes if c}
                fails = [f for f, c in zip(fails, reload_classes) if not c]
                self.seen |= seen
                for k, v in not_run.items():
                    self.not_run.setdefault(k, v)
                fails += [properties.failure("cold-diff", "cold load + processing", "", detail=f"finding class {c} "
                                             "(not expected: pass --expect to allow it)") for c in sorted(seen - self.expect)]
                for f in fails:
                    f.update(mode=mode, command=spec.command("CKPT"), other_command=spec.command("CKPT_B", other=True))
                out += [f for f in fails if f["property"] in self.props]
            return out

    def run(self, examples, seed_value, formats):
        @settings(max_examples=examples, deadline=None, database=None, report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
        @seed(seed_value)
        @given(specs.specs(formats))
        def prop(spec):
            self.examples += 1
            try:
                fails = self.case(spec, ["nan"])
            except specs.Refused as why:
                self.refused += 1
                self.refusals.add(str(why).splitlines()[0] if str(why) else "refused")
                reject()
            if fails:
                raise Unexpected(spec, fails)
        for probe in (p for p in specs.PROBES if p.fmt in formats):
            prop = example(probe)(prop)
        try:
            prop()
        except Unexpected as u:
            spec = self.shrink(u.spec, u.failures, formats) if u.spec in specs.PROBES else u.spec
            return spec, self.case(spec, list(state.MODES))
        return None, []

    def shrink(self, spec, failures, formats):
        """The plainest spec that fails the same property on the same parameter as `failures`."""
        same = {(f["property"], f["parameter"]) for f in failures[:1]}

        def still_fails(candidate):
            try:
                return bool({(f["property"], f["parameter"]) for f in self.case(candidate, ["nan"])} & same)
            except specs.Refused:
                return False
        return specs.shrink(spec, still_fails, formats)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engine", required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--examples", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--expect", action="append", default=[])
    p.add_argument("--format", action="append", default=[])
    p.add_argument("--property", action="append", default=[])
    p.add_argument("--nvfp4", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    adapter = _adapter(a.engine, a.backend)
    r = Runner(adapter, a.nvfp4, a.expect, a.property or properties.PROPERTIES)
    smallest, failures = r.run(a.examples, a.seed, a.format or ["modelopt", "compressed-tensors"])
    result = {"engine": a.engine, "version": adapter.version, "backend": a.backend, "examples": r.examples,
              "refused_specs": r.refused, "refusals": sorted(r.refusals), "findings_seen": sorted(r.seen), "not_run": r.not_run,
              "smallest_failing": smallest.command("CKPT") if smallest else None, "failures": failures}
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1, default=str)


if __name__ == "__main__":
    main()
