#!/usr/bin/env python3
"""nvfp4.diff on an engine state in memory against `nvfp4 diff` on the same state's dump file:
wall time and peak RSS of each, alternating, each in a fresh process; the two reports must be
equal but for the dump's label and the command line. The state is the dump loaded by
safetensors.torch (torch tensors, as a live state_dict holds them) when torch is there, else by
numpy. Writes one Markdown table row per run to stdout.

    NVFP4_BIN=build/default/tools/nvfp4 PYTHONPATH=build/default/python \\
      bench_diff.py CKPT DUMP ENGINE==VERSION [BACKEND] [RUNS]
"""

import json
import os
import subprocess
import sys
import time

IN_PROCESS = r"""
import json, resource, sys, time
import nvfp4
ckpt, dump, engine, backend = sys.argv[1:5]
t0 = time.perf_counter()
try:
    from safetensors.torch import load_file
except ImportError:
    from safetensors.numpy import load_file
state = load_file(dump)
loaded = time.perf_counter()
rss_loaded = int(open("/proc/self/statm").read().split()[1]) * 4096
report = nvfp4.diff(ckpt, state, engine=engine, backend=backend or None)
done = time.perf_counter()
print(json.dumps({"load_s": loaded - t0, "diff_s": done - loaded, "rss_loaded": rss_loaded,
                  "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "state_bytes": sum(t.nbytes for t in state.values()), "report": report.data}))
"""


def cli(binary, ckpt, dump, engine, backend):
    args = [binary, "diff", ckpt, dump, "--engine", engine, *(["--backend", backend] if backend else []), "--json"]
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    assert r.returncode in (0, 1), r.stderr
    return wall, int(r.stderr.strip().splitlines()[-1]) * 1024, json.loads(r.stdout)


def main():
    ckpt, dump, engine = sys.argv[1:4]
    backend = sys.argv[4] if len(sys.argv) > 4 else ""
    runs = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    strip = lambda d: {k: v for k, v in d.items() if k not in ("dump", "command_line")}  # noqa: E731
    print("| run | `nvfp4 diff` on the dump: wall, peak RSS | state in memory (bytes) | `nvfp4.diff` on it: diff wall, peak RSS (RSS with the state loaded) | same report |")
    print("|---|---|---|---|---|")
    for i in range(runs):
        wall, peak, cli_report = cli(os.environ["NVFP4_BIN"], ckpt, dump, engine, backend)
        r = subprocess.run([sys.executable, "-c", IN_PROCESS, ckpt, dump, engine, backend], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        m = json.loads(r.stdout)
        same = strip(m["report"]) == strip(cli_report)
        gib = 1 << 30
        print(f"| {i + 1} | {wall:.1f} s, {peak / gib:.2f} GiB | {m['state_bytes'] / 1e9:.2f} GB (loaded in {m['load_s']:.1f} s) | "
              f"{m['diff_s']:.1f} s, {m['peak_rss'] / gib:.2f} GiB ({m['rss_loaded'] / gib:.2f} GiB) | {same} |")


if __name__ == "__main__":
    main()
