#!/usr/bin/env bash
# The package as a user gets it: `pip wheel ./python` (scikit-build-core over the top-level CMake
# project, in WORK/build so that a second run is incremental), the wheel installed into a fresh
# venv, and a throwaway project whose test uses the plugin's fixtures and assertion, found through
# the wheel's pytest11 entry point (no -p, no conftest).
#   wheel_test.sh PYTHON WORK [COMPILER_LAUNCHER]
set -euo pipefail
py=$1 work=$2 launcher=${3:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work"
work=$(cd "$work" && pwd)
rm -rf "$work/wheels" "$work/venv" "$work/project"
settings=(-Cbuild-dir="$work/build")
if [ -n "$launcher" ]; then
  settings+=(-Ccmake.define.CMAKE_CXX_COMPILER_LAUNCHER="$launcher" -Ccmake.define.CMAKE_C_COMPILER_LAUNCHER="$launcher")
fi
# The build requirements (pyproject.toml, pinned) are in PYTHON's venv (scripts/setup.sh), so no
# isolated build environment has to be downloaded.
"$py" -m pip wheel --disable-pip-version-check --no-build-isolation --no-deps -q -w "$work/wheels" "${settings[@]}" "$src/python"
wheel=$(ls "$work"/wheels/nvfp4_verify-*.whl)

"$py" -m venv "$work/venv"
vpy="$work/venv/bin/python"
# numpy, ml_dtypes, pytest and hypothesis from PYTHON's venv (this machine may be offline); the
# package only from the wheel.
"$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$("$vpy" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/base.pth"
"$vpy" -m pip install --disable-pip-version-check --no-deps --no-index -q "$wheel"

mkdir -p "$work/project"
cd "$work/project"
cat >test_model.py <<'PY'
import pytest

import nvfp4
from nvfp4 import reference


def test_installed_from_the_wheel():
    import importlib.metadata

    assert "/venv/" in nvfp4.__file__
    assert importlib.metadata.version("nvfp4-verify") == nvfp4.__version__


@pytest.mark.nvfp4_spec(layers=2, layout="fused")
def test_weights_after_an_update(nvfp4_checkpoint, nvfp4_assert_state):
    # The reference's parameters stand for the engine's: what sglang holds, plus w4a16's
    # weight_global_scale, which sglang does not register.
    state = {k: v for k, v in reference.process(nvfp4_checkpoint).items() if not k.endswith(".weight_global_scale")}
    report = nvfp4_assert_state(nvfp4_checkpoint, state)
    assert report.passed and len(report.modules) == 8
PY
"$vpy" -m pytest -q -p no:cacheprovider test_model.py
test "$("$vpy" -m nvfp4 --version)" = "nvfp4 $("$vpy" -c 'import nvfp4; print(nvfp4.__version__)')"
echo "wheel $(basename "$wheel"): installed and used by a throwaway project"
