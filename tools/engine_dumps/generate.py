"""Dumps of sglang's and vLLM's own post-processed weights for `nvfp4 diff`'s tests.

A thin client of engines/ (engines/README.md): the installed release's adapter (a row of
engines/sglang.py or engines/vllm.py RELEASES, with the stubs engines/stubs.py lists) builds the
engine's own model class over a checkpoint `nvfp4 make-checkpoint` wrote (engines/model.py build),
cold-loads it (the model's own load_weights, then the release's own process_weights_after_loading,
as engine-check's cold load does), and tools/dump_engine_state.py writes the parameters of its
NVFP4 modules (qkv_proj, o_proj, gate_up_proj, down_proj, experts). The rest of the model
(embedding, norms, lm_head, rotary cache, attention's KV scales) is left out: `nvfp4 diff` does
not check tensors under no quantized module, and the dumps are its fixtures for those modules.

usage: generate.py ENGINE CKPT_DIR OUT.safetensors [MOE_BACKEND]   (ENGINE: sglang | vllm)
       generate.py ENGINE --batch MOE_BACKEND CKPT_DIR=OUT ...       (one process, one adapter)
The MoE backend defaults to flashinfer_cutlass on sglang and cutlass on vLLM (the linear layers do
not depend on it); the dump's metadata names `cutlass` then, as the committed dumps do.
"""
import os
import sys

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, _ROOT)
sys.path.insert(0, os.path.join(_ROOT, "tools"))

from engines import stubs  # noqa: E402,F401 (first: its environment must precede the engines' imports)
from engines.model import build, quantized_view, read_checkpoint  # noqa: E402
from dump_engine_state import dump_model  # noqa: E402

_DEFAULT_BACKEND = {"sglang": "flashinfer_cutlass", "vllm": "cutlass"}


def adapter(engine, moe_backend):
    if engine == "sglang":
        from engines.sglang import Adapter
    elif engine == "vllm":
        from engines.vllm import Adapter
    else:
        raise SystemExit(f"generate.py: engine {engine!r}: expected sglang or vllm")
    return Adapter(moe_backend or _DEFAULT_BACKEND[engine])


def dump(ad, ckpt, out, moe_backend):
    """Build, cold load and dump one checkpoint with one adapter."""
    conf, tensors = read_checkpoint(ckpt)
    model = build(ad, conf)
    ad.cold_load(model, list(tensors.items()))
    dump_model(quantized_view(model), out, engine=ad.engine, backend=moe_backend or "cutlass")


def main(argv):
    if len(argv) >= 3 and argv[1] == "--batch":
        engine, backend = argv[0], argv[2] if argv[2] != "-" else None
        ad = adapter(engine, backend)
        for pair in argv[3:]:
            ckpt, out = pair.split("=", 1)
            dump(ad, ckpt, out, backend)
        return 0
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    engine, ckpt, out = argv[:3]
    backend = argv[3] if len(argv) > 3 else None
    dump(adapter(engine, backend), ckpt, out, backend)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
