"""nvfp4-verify from Python: check NVFP4 weights, pipelines and an engine's live tensors.

The same C++ as the ``nvfp4`` command, in-process: ``diff`` checks an engine's parameters in
memory (a ``state_dict()``) against the checkpoint; ``make_checkpoint``, ``inspect`` and
``verify`` return the command's JSON reports as objects; ``nvfp4.reference`` is the reference
pipeline as functions; ``nvfp4.strategies`` and the pytest plugin (``nvfp4.pytest_plugin``) are
helpers for your own tests. Errors raise ``nvfp4.Error`` subclasses with the library's message.
"""

from __future__ import annotations

from . import reference
from ._core import __version__
from .api import DEFAULT_ENGINE, diff, inspect, make_checkpoint, read_dump, reproduce_command, verify, write_dump
from .errors import BadInputError, CheckFailedError, Error, IoError, OutOfMemoryError, UsageError
from .reports import DiffReport, Mismatch, ModuleResult, Report
from .testing import assert_state_matches

__all__ = [
    "__version__", "diff", "inspect", "verify", "make_checkpoint", "write_dump", "read_dump", "reproduce_command", "DEFAULT_ENGINE",
    "assert_state_matches", "reference", "Report", "DiffReport", "ModuleResult", "Mismatch",
    "Error", "BadInputError", "UsageError", "CheckFailedError", "IoError", "OutOfMemoryError",
]
