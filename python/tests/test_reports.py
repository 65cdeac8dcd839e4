"""make_checkpoint, inspect and verify return what the nvfp4 command's --json prints (the same C++
builds both), the reports validate against docs/schema/ and round-trip through JSON."""

import json
import re

import nvfp4
from conftest import ROOT, run_cli


def test_make_checkpoint_writes_the_commands_bytes(tmp_path):
    spec = dict(layers=1, experts=2, unequal_scales=True, seed=7)
    ours = nvfp4.make_checkpoint(tmp_path / "py", **spec)
    run_cli("make-checkpoint", str(tmp_path / "cli"), "--layers", "1", "--experts", "2", "--unequal-scales", "--seed", "7", expect=0)
    files = sorted(p.name for p in ours.iterdir())
    assert files == sorted(p.name for p in (tmp_path / "cli").iterdir()) and files
    for f in files:
        assert (ours / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f


def without_run(report):
    """A report less what differs between two runs: command line, timings."""
    data = json.loads(json.dumps(report))
    data.pop("command_line", None)
    data.pop("seconds", None)
    return data


def test_inspect_equals_the_command(tmp_path, validators):
    ckpt = nvfp4.make_checkpoint(tmp_path / "c", experts=2, layout="fused")
    r = nvfp4.inspect(ckpt)
    _, out, _ = run_cli("inspect", str(ckpt), "--json", expect=0)
    assert without_run(r.data) == without_run(json.loads(out))
    assert r.passed and r.schema == "nvfp4-inspect-report"
    assert list(validators["inspect-report"].iter_errors(r.data)) == []
    assert nvfp4.Report.from_json(r.to_json()) == r


def test_verify_equals_the_command(tmp_path, validators):
    ckpt = nvfp4.make_checkpoint(tmp_path / "c", layers=1, hidden=64, intermediate=64)
    r = nvfp4.verify(ckpt, reloads=1, activation_rows=[2], jobs=1)
    _, out, _ = run_cli("verify", str(ckpt), "--reloads", "1", "--activation-rows", "2", "--jobs", "1", "--json", expect=0)
    assert without_run(r.data) == without_run(json.loads(out))
    assert r.passed
    assert list(validators["verify-report"].iter_errors(r.data)) == []
    assert nvfp4.Report.from_json(r.to_json(indent=None)) == r


def test_a_failing_checkpoint_reports_not_passed(tmp_path):
    """A NaN block scale: inspect's report says so (exit 1 for the command), not an exception."""
    ckpt = nvfp4.make_checkpoint(tmp_path / "c", layers=1)
    f = ckpt / "model.safetensors"
    raw = bytearray(f.read_bytes())
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    name = sorted(k for k in header if k.endswith(".weight_scale"))[0]
    raw[8 + n + header[name]["data_offsets"][0]] = 0x7F  # E4M3 NaN
    f.write_bytes(bytes(raw))
    r = nvfp4.inspect(ckpt)
    assert not r.passed
    assert any(x["tensor"] == name and x["level"] == "fail" for x in r["findings"])
    run_cli("inspect", str(ckpt), "--json", expect=1)


def test_version_is_the_commands():
    """One source of truth: CMakeLists.txt's project version, which nvfp4 --version prints and
    pyproject.toml's version provider reads with the regex below."""
    _, out, _ = run_cli("--version", expect=0)
    assert out.strip() == f"nvfp4 {nvfp4.__version__}"
    pyproject = (ROOT / "python" / "pyproject.toml").read_text()
    regex = re.search(r"regex = '(.*)'", pyproject).group(1)
    assert re.search(regex, (ROOT / "CMakeLists.txt").read_text()).group("value") == nvfp4.__version__
