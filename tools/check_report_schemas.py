#!/usr/bin/env python3
"""The JSON reports of `nvfp4 inspect`, `nvfp4 verify` and `nvfp4 diff` against their schemas
(docs/schema/), with jsonschema (pinned in tools/golden/requirements.txt), on checkpoints that pass
and that fail; `nvfp4 verify` on a checkpoint rewritten by safetensors' own Python writer;
`nvfp4 diff` on the committed engine dumps (tools/engine_dumps/data).

    check_report_schemas.py NVFP4_BINARY SCHEMA_DIR
"""
import copy
import json
import pathlib
import shutil
import struct
import subprocess
import sys
import tempfile

import jsonschema
import ml_dtypes
import numpy as np
import referencing
import safetensors.numpy


def run(binary, *args, expect):
    r = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)
    if r.returncode != expect:
        sys.exit(f"{' '.join(args)}: exit {r.returncode}, expected {expect}\nstdout: {r.stdout[-2000:]}\nstderr: {r.stderr[-2000:]}")
    return r.stdout


def header(path):
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, json.loads(raw[8:8 + n])


def poison_block_scale(ckpt):
    """A NaN (E4M3 0x7F) in the first block scale of the first *.weight_scale tensor."""
    path = ckpt / "model.safetensors"
    raw, n, h = header(path)
    name = sorted(k for k in h if k.endswith(".weight_scale"))[0]
    at = 8 + n + h[name]["data_offsets"][0]
    path.write_bytes(raw[:at] + b"\x7f" + raw[at + 1:])


NUMPY = {"F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16, "F8_E4M3": ml_dtypes.float8_e4m3fn, "U8": np.uint8,
         "I8": np.int8, "I32": np.int32, "I64": np.int64}


def rewrite_with_python_safetensors(src, dst):
    """Every file of src written again by safetensors' own writer (safetensors.numpy.save_file),
    configs copied."""
    dst.mkdir()
    for f in src.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, dst / f.name)
            continue
        raw, n, h = header(f)
        meta = h.pop("__metadata__", None)
        tensors = {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype=NUMPY[v["dtype"]]).reshape(v["shape"])
                   for k, v in h.items()}
        safetensors.numpy.save_file(tensors, str(dst / f.name), metadata=meta)


def main():
    binary, schema_dir = sys.argv[1], pathlib.Path(sys.argv[2])
    schemas = {p.name: json.loads(p.read_text()) for p in schema_dir.glob("*.schema.json")}
    registry = referencing.Registry().with_resources(
        (s["$id"], referencing.Resource.from_contents(s)) for s in schemas.values())
    validators = {}
    for name, s in schemas.items():
        jsonschema.Draft202012Validator.check_schema(s)
        validators[name] = jsonschema.Draft202012Validator(s, registry=registry)
    checked = 0

    def validate(schema, text, expect_passed):
        nonlocal checked
        report = json.loads(text)
        errors = sorted(validators[schema].iter_errors(report), key=lambda e: list(e.path))
        if errors:
            sys.exit(f"{schema}: {errors[0].message} at {list(errors[0].path)}")
        if report["passed"] != expect_passed:
            sys.exit(f"{schema}: passed is {report['passed']}, expected {expect_passed}")
        # The schema must be able to fail: the same report with a number turned into a string.
        broken = copy.deepcopy(report)
        count = "checks_failed" if "checks_failed" in report else "modules_failed"
        broken[count] = str(broken[count])
        if validators[schema].is_valid(broken):
            sys.exit(f"{schema} accepts {count} as a string")
        checked += 1
        return report

    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        cases = {"dense": ["--layout", "fused"], "moe": ["--experts", "3", "--unequal-scales", "--format", "compressed-tensors"]}
        for name, args in cases.items():
            ckpt = tmp / name
            run(binary, "make-checkpoint", str(ckpt), "--hidden", "64", "--intermediate", "96", "--head-dim", "16", *args, expect=0)
            validate("inspect-report.schema.json", run(binary, "inspect", str(ckpt), "--json", expect=0), True)
            for backend in ("cutlass", "trtllm"):
                r = validate("verify-report.schema.json",
                             run(binary, "verify", str(ckpt), "--json", "--activation-rows", "1", "--reloads", "1", "--backend", backend, expect=0), True)
                gemm = [c for c in r["checks"] if "optimized kernel vs exact oracle" in c["name"]]
                if not gemm or any(c["values"]["max_abs_diff"] > c["values"]["max_bound"] for c in gemm):
                    sys.exit(f"{name}/{backend}: GEMM checks without numbers within their bound")
            python_written = tmp / (name + "-python")
            rewrite_with_python_safetensors(ckpt, python_written)
            if (python_written / "model.safetensors").read_bytes() == (ckpt / "model.safetensors").read_bytes():
                print(f"{name}: safetensors' writer gives the same bytes as ours")
            validate("verify-report.schema.json", run(binary, "verify", str(python_written), "--json", "--activation-rows", "1", expect=0), True)
        bad = tmp / "nan"
        shutil.copytree(tmp / "dense", bad)
        poison_block_scale(bad)
        validate("inspect-report.schema.json", run(binary, "inspect", str(bad), "--json", expect=1), False)
        r = validate("verify-report.schema.json", run(binary, "verify", str(bad), "--json", "--activation-rows", "1", expect=1), False)
        if not any(f["level"] == "fail" and "NaN block scale" in f["what"] for f in r["findings"]):
            sys.exit("verify on a NaN block scale: no failing finding")
    dumps = pathlib.Path(__file__).resolve().parent / "engine_dumps" / "data"
    for ckpt, dump, ok in [("dense", "dense.sglang", True), ("moe", "moe.vllm.flashinfer_trtllm", True),
                           ("moe_unequal", "moe_unequal.sglang.flashinfer_cutlass", False), ("ct", "ct.vllm", False)]:
        r = validate("diff-report.schema.json", run(binary, "diff", str(dumps / ckpt), str(dumps / (dump + ".safetensors")), "--json",
                                                      expect=0 if ok else 1), ok)
        if not ok and not any(m["unreconciled"] for m in r["modules"]):
            sys.exit(f"diff {dump}: failing without an unreconciled shard")
    print(f"{checked} reports valid against {', '.join(sorted(schemas))}")


if __name__ == "__main__":
    main()
