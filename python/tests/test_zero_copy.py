"""nvfp4.diff reads the state where it is: no copy of the weights, measured two ways on a state
of ~150 MB (the reference's own post-processed parameters of a 16-layer checkpoint), in a fresh
process: Python-side allocations (tracemalloc: numpy registers every array it allocates) and the
resident set sampled while the diff runs, against the resident set with the state loaded."""

import json
import subprocess
import sys
import textwrap

import nvfp4

CODE = textwrap.dedent("""
    import json, sys, threading, time, tracemalloc
    import nvfp4
    from nvfp4 import reference

    def rss():
        return int(open("/proc/self/statm").read().split()[1]) * 4096

    state = reference.process(sys.argv[1])
    state_bytes = sum(a.nbytes for a in state.values())
    base, peak_rss, running = rss(), [0], [True]

    def sample():  # the diff runs without the GIL: sample the resident set while it does
        while running[0]:
            peak_rss[0] = max(peak_rss[0], rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    tracemalloc.start()
    report = nvfp4.diff(sys.argv[1], state)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    running[0] = False
    sampler.join()
    print(json.dumps({"state": state_bytes, "traced_peak": traced, "rss_growth": peak_rss[0] - base,
                      "modules": len(report["modules"]), "params": sum(len(m.params) for m in report.modules)}))
""")


def test_diff_copies_no_weights(tmp_path):
    ckpt = nvfp4.make_checkpoint(tmp_path / "c", layers=16, hidden=1024, intermediate=4096, head_dim=64)
    r = subprocess.run([sys.executable, "-c", CODE, str(ckpt)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m["state"] > 80 << 20, m
    assert m["modules"] == 16 * 4 and m["params"] > 16 * 4 * 4, m  # every module's tensors were read
    # A copy of the state would show up whole in either measure; the diff's own work is one module
    # at a time (the largest here is ~4 MB of weights), and Python allocates only the report.
    assert m["traced_peak"] < m["state"] // 50, m
    assert m["rss_growth"] < m["state"] // 4, m
