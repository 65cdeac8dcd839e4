"""The package's exceptions, one per kind of error the C++ library raises (core/error.h's
ErrorKind), each carrying the library's one-line message unchanged: "<file>: <tensor>: <problem>".

``exit_code`` is what the nvfp4 command exits with for the same error.
"""

from __future__ import annotations


class Error(Exception):
    """Any error of the library: ``str(e)`` is its one-line message.

    Attributes:
        file: the file (or in-memory state label) the error is about, or "".
        tensor: the tensor it is about, or "".
        problem: what is wrong, without the file and tensor.
    """

    exit_code = 2

    def __init__(self, message: str, file: str = "", tensor: str = "", problem: str = "") -> None:
        super().__init__(message)
        self.file = file
        self.tensor = tensor
        self.problem = problem or message


class BadInputError(Error, ValueError):
    """Input that cannot be checked: a malformed file, a wrong shape, a missing tensor, a dump
    that is not of this checkpoint (the nvfp4 command exits 2)."""


class UsageError(Error, ValueError):
    """Wrong arguments: an unknown option or engine, a value out of range (exit 2)."""


class CheckFailedError(Error):
    """A property that does not hold, raised where no report can carry it (exit 1)."""

    exit_code = 1


class IoError(Error, OSError):
    """A file that cannot be read or written (exit 2)."""


class OutOfMemoryError(Error, MemoryError):
    """An allocation failed; the message says how much was asked for and held (exit 3)."""

    exit_code = 3


__all__ = ["Error", "BadInputError", "UsageError", "CheckFailedError", "IoError", "OutOfMemoryError"]
