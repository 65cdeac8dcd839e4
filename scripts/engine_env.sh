#!/usr/bin/env bash
# Creates (once) and prints the Python of a venv that runs one engine release's own loading and
# post-processing code on the CPU: `scripts/engine_env.sh vllm==0.19.1` -> .../vllm-0.19.1/bin/python
#
# Two layers, so that one torch serves every release that runs on it (engines/envs.tsv says which):
#   ${NVFP4_ENGINE_ENVS:-$HOME/.cache/nvfp4/engines}/torch-VERSION   torch from PyPI with its own
#       dependencies, plus engines/requirements/base.txt (hypothesis, pytest, numpy, ...)
#   .../ENGINE-VERSION   a venv whose .pth puts the torch base's site-packages after its own, with
#       the engine wheel, the FlashInfer it pins and its pure-Python imports, all --no-deps
#       (engines/requirements/FILE plus the row's pins): nothing there can pull another torch.
# Idempotent: a layer is reused when its stamp (a hash of everything it was built from) matches,
# rebuilt from scratch otherwise; a lock keeps two runs from building the same layer at once.
# Exit 0 and the python path on stdout; 2 with one line on stderr when the spec is unknown or the
# environment cannot be made (no network, no python3 venv, pip failing).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
table=$root/engines/envs.tsv
reqs=$root/engines/requirements
cache=${NVFP4_ENGINE_ENVS:-$HOME/.cache/nvfp4/engines}
python3=${NVFP4_ENGINE_PYTHON3:-python3}

fail() { echo "engine_env.sh: $*" >&2; exit 2; }

[ $# -eq 1 ] || fail "usage: scripts/engine_env.sh ENGINE==VERSION (rows of engines/envs.tsv)"
spec=$1
row=$(awk -v s="$spec" '$1 == s { print; exit }' "$table")
if [ -z "$row" ]; then
  known=$(awk '!/^#/ && NF { printf "%s ", $1 }' "$table")
  fail "$spec is not a row of engines/envs.tsv (known: ${known% })"
fi
read -r _ torch torchvision flashinfer reqfile pins <<<"$row"
[ -f "$reqs/$reqfile" ] || fail "$spec: engines/requirements/$reqfile is missing"
mkdir -p "$cache" || fail "cannot create $cache"
pyver=$("$python3" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")') ||
  fail "no $python3 to build venvs with"

# stamp_of LAYER INPUT...: the hash a finished layer records; it changes with any input.
stamp_of() { { echo "$pyver"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16; }

# build LAYER STAMP FUNCTION: run FUNCTION LAYER under the layer's lock unless its stamp matches.
build() {
  local dir=$1 want=$2 fn=$3
  exec 9>"$dir.lock"
  flock 9
  if [ "$(cat "$dir/.nvfp4-stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$dir"
    local t0=$SECONDS log="$dir.log"
    echo "engine_env.sh: building $dir (log: $log)" >&2
    if ! "$fn" "$dir" >"$log" 2>&1; then
      rm -rf "$dir"
      flock -u 9
      fail "building $dir failed: $(grep -E 'ERROR|Error' "$log" | head -1) (full log: $log)"
    fi
    echo "$want" >"$dir/.nvfp4-stamp"
    echo "engine_env.sh: built $dir in $((SECONDS - t0)) s, $(du -sh "$dir" | cut -f1)" >&2
  fi
  flock -u 9
}

make_base() {
  "$python3" -m venv "$1"
  "$1/bin/python" -m pip install --disable-pip-version-check -q --no-compile "torch==$torch" "torchvision==$torchvision" \
    -r "$reqs/base.txt"
}

make_engine() {
  "$python3" -m venv "$1"
  echo "$base/lib/python$pyver/site-packages" >"$1/lib/python$pyver/site-packages/nvfp4_torch_base.pth"
  local extra=()
  [ "$pins" = "-" ] || IFS=, read -r -a extra <<<"$pins"
  # --no-deps everywhere: the engines' own requirements name CUDA builds of torch and kernels the
  # CPU never calls; what their imports need is the pinned file.
  # the row's pins replace the file's lines for the same packages
  local drop='^$' p
  for p in "${extra[@]}"; do drop="$drop|^${p%%==*}=="; done
  grep -v -i -E "$drop" "$reqs/$reqfile" >"$1/requirements.txt"
  "$1/bin/python" -m pip install --disable-pip-version-check -q --no-compile --no-deps \
    "$spec" "flashinfer-python==$flashinfer" -r "$1/requirements.txt" "${extra[@]}"
}

base=$cache/torch-$torch
env=$cache/${spec/==/-}
build "$base" "$(stamp_of "torch==$torch" "torchvision==$torchvision" "$(cat "$reqs/base.txt")")" make_base
build "$env" "$(stamp_of "$row" "$(cat "$base/.nvfp4-stamp")" "$(cat "$reqs/$reqfile")")" make_engine
echo "$env/bin/python"
