"""README's Python example runs as it is, from the clone's root (what "pip install ./python, then
the README's example" promises), and prints what the committed dump holds."""

import contextlib
import io
import os
import re

from conftest import ROOT


def test_readme_example_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Python\n", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(example.strip().splitlines()) <= 12
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    # sglang reconciles no shard scales: q, k, v under one alpha, every expert's up half under the gate's.
    assert lines[0] == "2 module(s) differ", lines
    assert lines[1].startswith("model.layers.0.self_attn.qkv_proj fail ok ") and " off by x" in lines[1], lines
    assert lines[2].startswith("model.layers.0.mlp.experts fail ok ") and lines[2].count(" off by x") == 4, lines
    assert os.path.getsize("/tmp/state.safetensors") > 0
