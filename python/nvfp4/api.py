"""The nvfp4 command's work as functions: each runs the same C++ as the command, in-process, and
returns the same report its ``--json`` prints, as a Python object."""

from __future__ import annotations

import os
import pathlib
from typing import List, Optional, Union

from . import _arrays, _core
from .errors import UsageError
from .reports import DiffReport, Report

PathLike = Union[str, "os.PathLike[str]"]
DEFAULT_ENGINE = "sglang==0.5.23"
_BACKENDS = ("cutlass", "flashinfer_cutlass", "trtllm", "flashinfer_trtllm")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _options(**options: object) -> List[str]:
    """Keyword arguments as the command's options: True -> a flag, False/None -> left out."""
    args: List[str] = []
    for key, value in options.items():
        if value is None or value is False:
            continue
        args.append(_option(key))
        if value is not True:
            args.append(",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value))
    return args


def _run(args: List[str]) -> str:
    """One command in-process; its stdout. A command-line error raises UsageError with the
    command's own message; the command's errors raise as nvfp4.errors (the C++ translates them)."""
    rc, out, err = _core.cli(args, True)
    if rc == 2:
        line = err.splitlines()[0] if err else "usage error"
        prefix = f"nvfp4 {args[0]}: "
        raise UsageError(line[len(prefix):] if line.startswith(prefix) else line)
    return out


def make_checkpoint(path: PathLike, **spec: Union[int, str, bool]) -> pathlib.Path:
    """Writes a synthetic NVFP4 checkpoint to ``path`` (``nvfp4 make-checkpoint``) and returns it.

    ``spec`` takes the command's options as keywords: ``layout`` ("fused" or "unfused"), ``format``
    ("modelopt" or "compressed-tensors"), ``layers``, ``hidden``, ``intermediate``, ``experts``
    (0: dense), ``shards``, ``seed``, ``head_dim``, ``kv_heads``, ``unequal_scales``, ``w4a16``,
    ``scalars`` ("0d", "1d" or "bf16"), ``jobs``. An unknown keyword or a value out of range raises
    UsageError with the command's message. Same spec and seed, same bytes.
    """
    _run(["make-checkpoint", os.fspath(path), *_options(**spec)])
    return pathlib.Path(path)


def inspect(path: PathLike) -> Report:
    """``nvfp4 inspect --json``: modules, shards, shapes, scale histograms and findings.
    ``.passed`` is False when a finding fails (a NaN, negative or zero scale, dead weights)."""
    return Report.from_json(_run(["inspect", os.fspath(path), "--json"]))


def verify(path: PathLike, *, backend: str = "cutlass", reloads: Optional[int] = None, jobs: Optional[int] = None,
           activation_rows: Optional[List[int]] = None, experts_chunk_mib: Optional[int] = None) -> Report:
    """``nvfp4 verify --json``: both pipelines side by side on the checkpoint, module by module
    (loading, processing, reloads, memory, GEMMs against the exact oracle). ``.passed`` iff every
    check holds; the options are the command's (None: its default)."""
    opts = _options(backend=backend, reloads=reloads, jobs=jobs, activation_rows=activation_rows, experts_chunk_mib=experts_chunk_mib)
    return Report.from_json(_run(["verify", os.fspath(path), *opts, "--json"]))


def _diff_command(checkpoint: str, dump: str, engine: str, backend: Optional[str], allow_unknown: bool) -> List[str]:
    return ["diff", checkpoint, dump, "--engine", engine, *(["--backend", backend] if backend else []),
            *(["--allow-unknown"] if allow_unknown else []), "--json"]


def diff(checkpoint: PathLike, state: _arrays.State, engine: str = DEFAULT_ENGINE, backend: Optional[str] = None,
         allow_unknown: bool = False, label: str = "<state>") -> DiffReport:
    """An engine's parameters in memory against the checkpoint: ``nvfp4 diff`` without a dump file.

    ``state`` maps each parameter name the engine holds after post-processing to its tensor: a live
    ``model.state_dict()``, or (name, tensor) pairs such as ``model.named_parameters()``. Torch
    tensors and numpy arrays (ml_dtypes for BF16 and FP8) are read where they are, without a copy
    (a CUDA tensor is copied to the host first). ``engine`` is "sglang" or "vllm", with
    ``==VERSION`` for a release (default: the newest sglang known); ``backend`` is the experts'
    backend (cutlass, flashinfer_cutlass, trtllm; None: told by the names). The report is the
    same, verdict for verdict, as ``nvfp4 diff --json`` on these tensors written to a dump
    (``write_dump``); ``label`` names the state in it and in errors.
    """
    if backend is not None and backend not in _BACKENDS:
        raise UsageError(f"backend \"{backend}\" is not an experts backend (cutlass, flashinfer_cutlass, trtllm)")
    ckpt = os.fspath(checkpoint)
    entries = _arrays.entries(state)
    text = _core.diff_state(ckpt, entries, engine, backend or "", allow_unknown, label, _diff_command(ckpt, label, engine, backend, allow_unknown))
    return DiffReport.from_json(text)


def write_dump(state: _arrays.State, path: PathLike, *, engine: Optional[str] = None, engine_version: Optional[str] = None,
               backend: Optional[str] = None) -> pathlib.Path:
    """Writes the state as one safetensors file ``nvfp4 diff`` reads (what
    tools/dump_engine_state.py writes from inside an engine), with ``engine``, ``engine_version``
    and ``backend`` in its metadata where given. Memory stays bounded by one tensor."""
    meta = {k: v for k, v in (("engine", engine), ("engine_version", engine_version), ("backend", backend)) if v}
    _core.write_dump(os.fspath(path), _arrays.entries(state), meta)
    return pathlib.Path(path)


def read_dump(path: PathLike) -> DumpState:
    """The tensors of a dump (one safetensors file or a directory of them, as ``nvfp4 diff`` reads
    it) by name, as read-only numpy arrays over the memory-mapped file (BF16 and FP8 as ml_dtypes arrays):
    a state to pass to ``diff``. The dump's metadata (engine, engine_version, backend) is in the
    returned dict's ``metadata`` attribute."""
    tensors, metadata = _core.read_dump(os.fspath(path))
    for _, _, a in tensors:
        a.setflags(write=False)  # a read-only mapping of the file: a write would fault
    state = DumpState((name, _arrays.from_core(dtype, a)) for name, dtype, a in tensors)
    state.metadata = metadata
    return state


class DumpState(dict):
    """``read_dump``'s result: a dict of name -> array, with the dump's ``metadata``."""

    metadata: dict = {}


def reproduce_command(checkpoint: PathLike, dump: PathLike, engine: str = DEFAULT_ENGINE, backend: Optional[str] = None,
                      allow_unknown: bool = False) -> str:
    """The shell command that repeats a diff on a dump written by ``write_dump``."""
    import shlex

    args = _diff_command(os.fspath(checkpoint), os.fspath(dump), engine, backend, allow_unknown)[:-1]
    return "nvfp4 " + " ".join(shlex.quote(a) for a in args)


__all__ = ["make_checkpoint", "inspect", "verify", "diff", "write_dump", "read_dump", "reproduce_command", "DEFAULT_ENGINE"]
