"""The pytest plugin (entry point ``pytest11``: loaded in every pytest run once the package is
installed). Fixtures:

- ``nvfp4_checkpoint_factory``: ``make(**spec)`` writes a checkpoint (``nvfp4.make_checkpoint``
  options) to a fresh temporary directory and returns its path;
- ``nvfp4_checkpoint``: one such checkpoint, of the spec given by ``@pytest.mark.nvfp4_spec(...)``
  or by indirect parametrization (``request.param``), else the default small dense model;
- ``nvfp4_assert_state``: ``nvfp4.assert_state_matches`` writing failing states under the test's
  temporary directory.
"""

from __future__ import annotations

import pathlib
from typing import Any, Callable, Dict

import pytest

from . import api, testing


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "nvfp4_spec(**spec): the make_checkpoint options of the nvfp4_checkpoint fixture")


@pytest.fixture
def nvfp4_checkpoint_factory(tmp_path_factory: Any) -> Callable[..., pathlib.Path]:
    """``make(**spec)``: a new checkpoint of that spec in its own temporary directory."""

    def make(**spec: Any) -> pathlib.Path:
        return api.make_checkpoint(tmp_path_factory.mktemp("nvfp4-ckpt"), **spec)

    return make


@pytest.fixture
def nvfp4_checkpoint(request: Any, nvfp4_checkpoint_factory: Callable[..., pathlib.Path]) -> pathlib.Path:
    """A temporary checkpoint: the spec of the ``nvfp4_spec`` marker, or ``request.param`` (a dict)."""
    spec: Dict[str, Any] = dict(getattr(request, "param", None) or {})
    marker = request.node.get_closest_marker("nvfp4_spec")
    if marker is not None:
        spec.update(marker.kwargs)
    return nvfp4_checkpoint_factory(**spec)


@pytest.fixture
def nvfp4_assert_state(tmp_path: pathlib.Path) -> Callable[..., Any]:
    """``check(checkpoint, state, **options)``: assert_state_matches with failing dumps kept under
    the test's tmp_path."""

    def check(checkpoint: Any, state: Any, **options: Any) -> Any:
        options.setdefault("dump_dir", tmp_path)
        return testing.assert_state_matches(checkpoint, state, **options)

    return check
