"""Each property seen failing on a deliberately broken copy of an engine's own file.

    python -m engines.mutants --nvfp4 BINARY [NAME...]     (in the env of the mutant's release)

A mutant copies the installed engine package into a temporary directory put first on
PYTHONPATH, replaces one line of one file there (the text must occur exactly once), runs
`python -m engines check` on it and requires the named property to fail. The installed
environment is never touched.
"""
import argparse
import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

_MQ = "srt/layers/quantization/modelopt_quant.py"
_ALPHA = 'layer, "alpha", (input_scale_2 * weight_scale_2).to(torch.float32)'
_ALPHA_CALL = 'copy_or_rebind_param(\n            ' + _ALPHA + '\n        )'

# name: (engine, version, file under the package, text, replacement, property that must fail, args)
MUTANTS = {
    # vLLM 0.19.1's fused-on-disk bug put back into 0.20.0's QKVParallelLinear.weight_loader_v2
    "qkv-fills-slot-0": ("vllm", "0.20.0", "model_executor/layers/linear.py",
                         "loaded_weight=loaded_weight, shard_id=idx, tp_rank=self.tp_rank",
                         "loaded_weight=loaded_weight, shard_id=0, tp_rank=self.tp_rank",
                         "loaded-slots", ["--backend", "cutlass"]),
    # sglang 0.5.23's own LlamaForCausalLM.load_weights (the model's loader, not a copy) loads k's
    # tensors with shard id "v" (k and v have one shape): qkv_proj's k slot is never written
    "llama-k-into-v": ("sglang", "0.5.23", "srt/models/llama.py", "weight_loader(param, loaded_weight, shard_id)",
                       'weight_loader(param, loaded_weight, "v" if shard_id == "k" else shard_id)',
                       "loaded-slots", ["--backend", "flashinfer_cutlass", "--format", "modelopt"]),
    # sglang 0.5.23's linear alpha doubled: the cold state is wrong
    "alpha-doubled": ("sglang", "0.5.23", _MQ, _ALPHA, _ALPHA.replace("weight_scale_2)", "weight_scale_2 * 2)"),
                      "cold-diff", ["--backend", "flashinfer_cutlass", "--format", "modelopt"]),
    # alpha doubled on every processing after the first: a reload of the same checkpoint differs
    "alpha-drifts-on-reload": ("sglang", "0.5.23", _MQ, _ALPHA, _ALPHA.replace(
        "weight_scale_2)", "weight_scale_2 * (2 if hasattr(layer, 'alpha') else 1))"),
        "reload-same", ["--backend", "flashinfer_cutlass", "--format", "modelopt"]),
    # alpha kept from the first load: a reload of other scales keeps the old alpha
    "alpha-stale-on-reload": ("sglang", "0.5.23", _MQ, _ALPHA, _ALPHA.replace(
        "(input_scale_2 * weight_scale_2)", "(layer.alpha.data if hasattr(layer, 'alpha') else input_scale_2 * weight_scale_2)"),
        "reload-other", ["--backend", "flashinfer_cutlass", "--format", "modelopt"]),
    # alpha rebound to a new Parameter on every processing (graph-captured kernels keep the old one)
    "alpha-rebound": ("sglang", "0.5.23", _MQ, _ALPHA_CALL,
                      "layer.alpha = torch.nn.Parameter((input_scale_2 * weight_scale_2).to(torch.float32), requires_grad=False)",
                      "identity", ["--backend", "flashinfer_cutlass", "--format", "modelopt"]),
}


def run(name, nvfp4, examples):
    engine, version, rel, old, new, prop, args = MUTANTS[name]
    try:
        installed = importlib.metadata.version(engine)
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != version:
        return f"{name}: skipped, this environment has {engine} {installed}, not {version}"
    src = os.path.dirname(importlib.util.find_spec(engine).origin)
    with tempfile.TemporaryDirectory(prefix="nvfp4-mutant-") as tmp:
        shutil.copytree(src, os.path.join(tmp, engine), ignore=shutil.ignore_patterns("__pycache__"))
        path = os.path.join(tmp, engine, rel)
        text = open(path).read()
        if text.count(old) != 1:
            sys.exit(f"{name}: the text to replace occurs {text.count(old)} times in {engine}/{rel}, expected once")
        open(path, "w").write(text.replace(old, new))
        env = dict(os.environ, PYTHONPATH=tmp + os.pathsep + os.environ.get("PYTHONPATH", ""))
        r = subprocess.run([sys.executable, "-m", "engines", "check", "--engine", f"{engine}=={version}", "--examples",
                            str(examples), "--property", prop, "--json", "--nvfp4", nvfp4] + args,
                           capture_output=True, text=True, env=env, cwd=os.path.dirname(os.path.dirname(__file__)))
    report = json.loads(r.stdout)
    fails = [f for b in report["backends"] for f in b["failures"] if f["property"] == prop]
    if r.returncode != 1 or not fails:
        sys.exit(f"{name}: {prop} held on the broken copy (exit {r.returncode}): the property cannot see this break")
    f = fails[0]
    return f"{name}: {prop} failed as it must ({f['step']}: {f['parameter']}[{f['index']}] {f['expected']} vs {f['actual']} {f['detail'][:120]})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nvfp4", required=True)
    p.add_argument("--examples", type=int, default=6)
    p.add_argument("names", nargs="*")
    a = p.parse_args()
    for name in a.names or list(MUTANTS):
        print(run(name, a.nvfp4, a.examples), flush=True)


if __name__ == "__main__":
    main()
