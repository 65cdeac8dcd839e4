"""Regenerates every committed dump of the release a Python has installed and compares it byte for
byte (`cmp`) with data/: generate.py in that Python, one process per MoE backend.

    reproduce.py PYTHON   (dumps named without a version: sglang 0.5.23, vLLM 0.33.0; README.md here)
Prints one line per dump (same, or DIFFERS with the tensors and metadata keys that differ) and
exits 1 when any differs.

safetensors' writer keeps the header's `__metadata__` in a Rust HashMap, so its key order differs
from one process to the next (two runs of the same save_file differ in those bytes). Before `cmp`,
the fresh dump's metadata keys are put in the committed file's order; nothing else is touched, so
every other byte (values, metadata values, tensor names, offsets, data) is compared as written.
"""
import collections
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
NEWEST = {"sglang": "0.5.23", "vllm": "0.33.0"}
# CASE.ENGINE[-VERSION][.BACKEND].safetensors
NAME = re.compile(r"^([a-z0-9_]+)\.(sglang|vllm)(?:-([0-9][0-9a-z.]*?))?(?:\.(cutlass|flashinfer_cutlass|flashinfer_trtllm))?\.safetensors$")


def installed(python):
    r = subprocess.run([python, "-c", "import importlib.metadata as m\nfor e in ('sglang', 'vllm'):\n"
                        "  try: print(e, m.version(e))\n  except m.PackageNotFoundError: pass"],
                       capture_output=True, text=True, check=True)
    return [line.split() for line in r.stdout.split("\n") if line.strip()]


def dumps_of(engine, version):
    """(case, backend or None, file name) of every committed dump of this release."""
    out = []
    for f in sorted(os.listdir(DATA)):
        m = NAME.match(f)
        if m and m.group(2) == engine and (m.group(3) or NEWEST[engine]) == version:
            out.append((m.group(1), m.group(4), f))
    return out


def _header(path):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    return json.loads(b[8:8 + n]), b[8:8 + n], b[8 + n:]


def metadata_in_order_of(fresh, committed):
    """`fresh` rewritten with its metadata keys in `committed`'s order (same keys, else unchanged)."""
    head, raw, rest = _header(fresh)
    order = list(_header(committed)[0].get("__metadata__", {}))
    meta = head.get("__metadata__", {})
    if sorted(order) != sorted(meta):
        return
    head["__metadata__"] = {k: meta[k] for k in order}
    new = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode()
    new += b" " * (len(raw) - len(new))  # safetensors pads the header with spaces to 8 bytes
    if len(new) != len(raw):
        return
    with open(fresh, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + new + rest)


def differing(fresh, committed):
    """Names whose dtype, shape or bytes differ, and metadata keys whose values differ."""
    (ha, _, da), (hb, _, db) = _header(fresh), _header(committed)
    ma, mb = ha.pop("__metadata__", {}), hb.pop("__metadata__", {})
    out = [f"metadata {k}" for k in sorted(set(ma) | set(mb)) if ma.get(k) != mb.get(k)]
    for k in sorted(set(ha) | set(hb)):
        a, b = ha.get(k), hb.get(k)
        if a is None or b is None or (a["dtype"], a["shape"]) != (b["dtype"], b["shape"]) or \
                da[slice(*a["data_offsets"])] != db[slice(*b["data_offsets"])]:
            out.append(k)
    return out


def main(python):
    differs = 0
    with tempfile.TemporaryDirectory(prefix="nvfp4-dumps-") as tmp:
        for engine, version in installed(python):
            by_backend = collections.defaultdict(list)
            for case, backend, f in dumps_of(engine, version):
                by_backend[backend].append((os.path.join(DATA, case), os.path.join(tmp, f), f))
            for backend, items in by_backend.items():
                r = subprocess.run([python, os.path.join(HERE, "generate.py"), engine, "--batch", backend or "-"]
                                   + [f"{c}={o}" for c, o, _ in items], capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"{engine} {version} {backend}: generate.py failed: {r.stderr.strip()[-2000:]}")
                    differs += len(items)
                    continue
                for _, out, f in items:
                    metadata_in_order_of(out, os.path.join(DATA, f))
                    same = subprocess.run(["cmp", "-s", out, os.path.join(DATA, f)]).returncode == 0
                    differs += not same
                    print(f"same    {f}" if same else f"DIFFERS {f}: {', '.join(differing(out, os.path.join(DATA, f)))}")
    return 1 if differs else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1]))
