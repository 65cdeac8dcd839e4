#!/usr/bin/env bash
# Installs what the build and the tests need on Debian 12, then creates .venv for the Python tools
# (golden data, JSON schema checks, the Python package's build and tests). Safe to re-run: it
# installs only what is missing.
#   scripts/setup.sh [--packages-only]   (the demo needs no .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ cmake ninja-build pkg-config python3 python3-venv python3-dev  # python3-dev: the package's extension
          libgtest-dev librapidcheck-dev libeigen3-dev libboost-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libopenblas-dev libdnnl-dev libre2-dev
          clang libclang-rt-14-dev   # the fuzz preset: libFuzzer, ASan, UBSan
          # libdnnl-dev's CMake config looks for OpenCL (its GPU runtime); Debian only recommends it.
          ocl-icd-opencl-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${1:-}" = "--packages-only" ] && exit 0

# The Python package (python/) builds and is tested with nanobind, scikit-build-core, pytest and
# Hypothesis from the same venv (python/requirements-test.txt).
if [ ! -x .venv/bin/python ] ||
   ! .venv/bin/python -c "import ml_dtypes, safetensors, numpy, jsonschema, nanobind, scikit_build_core, pytest, hypothesis" 2>/dev/null; then
  echo "setup: creating or updating .venv (tools/golden/requirements.txt, python/requirements-test.txt)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tools/golden/requirements.txt -r python/requirements-test.txt
fi
