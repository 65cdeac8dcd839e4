"""The checkpoint's side of the harness: its tensors, the HF config an engine's model class reads,
and where each of its per-tensor scalars must land, all from the checkpoint's own names.

The model itself is the engine's (each adapter's `build_model(conf)`: its own model class, with
its own `load_weights`). What lives here does not ask the engine anything:
  hf_config       `nvfp4 make-checkpoint`'s synthetic config.json as the HF config the engines'
                  llama / Qwen3-MoE classes read
  scalar_loads    (parameter, slot, value) of every per-tensor scalar on disk: independent truth
                  for `loaded-slots`, derived from the names, never recorded from the engine's calls
  target          the fused parameter a checkpoint name loads into (q/k/v -> qkv_proj, expert e's
                  gate/up -> experts.w13_*), for messages about tensors a reload cannot reach
  quantized_view  the model's NVFP4 modules alone, at their own paths (the committed dumps)
"""
import contextlib
import glob
import json
import os
import re

import torch
from safetensors.torch import load_file

# The model files' packed modules (sglang srt/models/qwen3_moe.py:999-1002@0.5.23
# Qwen3MoeForCausalLM.packed_modules_mapping): quantization configs match fused names through it.
PACKED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"]}
# make-checkpoint writes lm_head.weight as [64, H] (generator/checkpoint_writer.cpp: plain("lm_head.weight", {64, H})).
VOCAB = 64
# The modules whose parameters are NVFP4 (what the committed dumps hold).
QUANTIZED = ("qkv_proj", "o_proj", "gate_up_proj", "down_proj", "experts")

# Shard names -> (fused module, slot of a per-shard scalar): q/k/v rows 0-2 of qkv_proj's [3],
# gate/up 0-1 of gate_up_proj's [2] (the stacked_params_mapping of sglang srt/models/llama.py:727-734@0.5.23).
_STACKED = {"q_proj": ("qkv_proj", "q"), "k_proj": ("qkv_proj", "k"), "v_proj": ("qkv_proj", "v"),
            "gate_proj": ("gate_up_proj", 0), "up_proj": ("gate_up_proj", 1)}
# An expert's shard -> its fused parameter prefix and shard id (FusedMoE.make_expert_params_mapping:
# gate and up into w13_, down into w2_; srt/layers/moe/fused_moe_triton/layer.py@0.5.23).
_EXPERT = {"gate_proj": ("w13_", "w1"), "up_proj": ("w13_", "w3"), "down_proj": ("w2_", "w2")}
_EXPERT_NAME = re.compile(r"^(.*\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.(.+)$")


def read_checkpoint(ckpt):
    tensors = {}
    for f in sorted(glob.glob(os.path.join(ckpt, "*.safetensors"))):
        tensors.update(load_file(f))
    with open(os.path.join(ckpt, "config.json")) as f:
        return json.load(f), tensors


def hf_config(conf):
    """The transformers config the engine's class reads: LlamaConfig for a dense checkpoint,
    Qwen3MoeConfig (no shared expert, every layer sparse) for one with experts."""
    common = dict(vocab_size=VOCAB, hidden_size=conf["hidden_size"], intermediate_size=conf["intermediate_size"],
                  num_hidden_layers=conf["num_hidden_layers"], num_attention_heads=conf["num_attention_heads"],
                  num_key_value_heads=conf["num_key_value_heads"], head_dim=conf["head_dim"], hidden_act="silu",
                  tie_word_embeddings=False, torch_dtype=conf.get("torch_dtype", "bfloat16"),
                  # no weight depends on it; a small rotary cache keeps the captured state small
                  max_position_embeddings=128)
    E = conf.get("num_experts", 0)
    if not E:
        from transformers import LlamaConfig
        return LlamaConfig(**common)
    from transformers import Qwen3MoeConfig
    return Qwen3MoeConfig(**common, num_experts=E, num_experts_per_tok=min(2, E),
                          moe_intermediate_size=conf["intermediate_size"], decoder_sparse_step=1, mlp_only_layers=[])


@contextlib.contextmanager
def checkpoint_dtype(conf):
    """Both engines build the model under the checkpoint's dtype (`with set_default_torch_dtype(
    model_config.dtype)`: sglang srt/model_loader/loader.py:838@0.5.23, vLLM
    model_executor/model_loader/base_loader.py:73@0.33.0): the layers' params_dtype, which sglang's
    W4A16 (Marlin) processing requires to be 16-bit (marlin_utils_fp4.py:148-150@0.5.23)."""
    default = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, conf.get("torch_dtype", "float32")))
    try:
        yield
    finally:
        torch.set_default_dtype(default)


def build(adapter, conf):
    """The engine's own model class for the checkpoint (adapter.build_model)."""
    return adapter.build_model(conf)


def _route(name):
    """(parameter name, slot) a checkpoint tensor loads into: slot None for a tensor that is its
    parameter's whole (fused on disk, or a module of one shard)."""
    m = _EXPERT_NAME.match(name)
    if m:
        prefix, shard = _EXPERT[m.group(3)]
        return f"{m.group(1)}.{prefix}{m.group(4)}", (int(m.group(2)), shard)
    for shard, (fused, slot) in _STACKED.items():
        if f".{shard}." in name:
            return name.replace(f".{shard}.", f".{fused}."), slot
    return name, None


def target(name):
    return _route(name)[0]


def resolve(name, names):
    """`name` as the model holds it: itself, else the one name under the same module with the same
    leaf one level deeper (vLLM >= 0.26.0 keeps the experts' parameters under
    `experts.routed_experts.`, model_executor/layers/fused_moe/layer.py:100@0.26.0); else None."""
    if name in names:
        return name
    module, leaf = name.rsplit(".", 1)
    found = [n for n in names if n.startswith(module + ".") and n.endswith("." + leaf) and n.count(".") == name.count(".") + 1]
    return found[0] if len(found) == 1 else None


def scalar_loads(tensors):
    """(parameter, slot, value) of every one-element tensor on disk: slot q/k/v or 0/1 for a
    stacked shard, (expert, w1/w3/w2) for an expert's, None where one scalar fills every slot."""
    out = []
    for name, w in tensors.items():
        if w.numel() == 1:
            param, slot = _route(name)
            out.append((param, slot, float(w.float().reshape(-1)[0])))
    return out


def _attach(root, name, module):
    parent = root
    parts = name.split(".")
    for q in parts[:-1]:
        if not hasattr(parent, q):
            parent.add_module(q, torch.nn.Module())
        parent = getattr(parent, q)
    parent.add_module(parts[-1], module)


def quantized_view(model):
    """A module holding only the model's NVFP4 modules, the same objects at the same paths."""
    view, kept = torch.nn.Module(), []
    for name, module in model.named_modules():
        if (name.startswith("model.layers.") and name.rsplit(".", 1)[-1] in QUANTIZED
                and not any(name.startswith(k + ".") for k in kept)):
            _attach(view, name, module)
            kept.append(name)
    return view
