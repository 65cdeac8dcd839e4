"""An assertion for your own tests: an engine's state matches the checkpoint, or the failure says
where first, in which module, and how to reproduce it with the nvfp4 command."""

from __future__ import annotations

import os
import pathlib
import tempfile
from typing import Optional

from . import api
from ._arrays import State
from .reports import DiffReport


def describe_failure(report: DiffReport, reproduce: str) -> str:
    """The assertion message: the verdict line, the first differing element with its module, and
    the reproduce command."""
    lines = [f"nvfp4: state {report['dump']} does not match {report['checkpoint']} as {report['engine']} {report['engine_version']}"
             f" reads it: {report['modules_failed']} module(s) differ"]
    first = report.first_difference()
    if first is not None:
        module, mismatch = first
        if mismatch is not None:
            where = f" {mismatch.index}" if mismatch.index else ""
            lines.append(f"first difference: module {module.module}, {module.module}.{mismatch.param}{where} ({mismatch.verdict}): "
                         f"{mismatch.source}: expected {mismatch.expected}, found {mismatch.found}"
                         + (f" ({mismatch.count} elements differ)" if mismatch.count > 1 else ""))
        elif module.unexplained:
            lines.append(f"first difference: module {module.module}: {module.unexplained[0]} is a tensor no check reads")
        else:
            lines.append(f"first difference: module {module.module}: semantic {module.semantic}, layout {module.layout}")
    lines.append(f"reproduce: {reproduce}")
    return "\n".join(lines)


def assert_state_matches(checkpoint: api.PathLike, state: State, engine: str = api.DEFAULT_ENGINE, backend: Optional[str] = None,
                         allow_unknown: bool = False, dump_dir: Optional[api.PathLike] = None) -> DiffReport:
    """Diffs the state against the checkpoint (``nvfp4.diff``) and returns the report if every
    module holds. Otherwise writes the state to a dump in ``dump_dir`` (default: a new temporary
    directory) and raises AssertionError naming the first differing element, its module and the
    ``nvfp4 diff`` command that reproduces the failure on that dump."""
    report = api.diff(checkpoint, state, engine=engine, backend=backend, allow_unknown=allow_unknown)
    if report.passed:
        return report
    where = pathlib.Path(dump_dir) if dump_dir is not None else pathlib.Path(tempfile.mkdtemp(prefix="nvfp4-state-"))
    dump = api.write_dump(state, where / "state.safetensors")
    raise AssertionError(describe_failure(report, api.reproduce_command(checkpoint, dump, engine, backend, allow_unknown)))


__all__ = ["assert_state_matches", "describe_failure"]
