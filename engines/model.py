"""A tiny model of the engine's own layers over a checkpoint's config, with the model files' loader.

The layers (qkv_proj, o_proj, gate_up_proj, down_proj, or experts) are built by the engine's own
classes through its adapter. `load_weights` is what the engines' llama and MoE model files do
(sglang srt/models/llama.py:609-660@0.5.10.post1, qwen2_moe.py:835-915@0.5.10.post1; vLLM
model_executor/models/llama.py load_weights): shard names map to the fused parameter with the
stacked shard id, expert names through the engine's own expert mapping, everything else by its
name with the parameter's weight_loader and no shard id (a checkpoint fused on disk). Parameters
are looked up by name in what the model holds at that call, as a reload does; a name the model no
longer has, or a parameter processing replaced by one without a weight_loader, is recorded in
`unreached` (the model files skip it or raise; either way the weight never arrives).
"""
import glob
import json
import os

import torch
from safetensors.torch import load_file

STACKED = [(".qkv_proj", ".q_proj", "q"), (".qkv_proj", ".k_proj", "k"), (".qkv_proj", ".v_proj", "v"),
           (".gate_up_proj", ".gate_proj", 0), (".gate_up_proj", ".up_proj", 1)]
PACKED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"]}


def read_checkpoint(ckpt):
    tensors = {}
    for f in sorted(glob.glob(os.path.join(ckpt, "*.safetensors"))):
        tensors.update(load_file(f))
    with open(os.path.join(ckpt, "config.json")) as f:
        return json.load(f), tensors


def _attach(root, name, module):
    parent = root
    parts = name.split(".")
    for q in parts[:-1]:
        if not hasattr(parent, q):
            parent.add_module(q, torch.nn.Module())
        parent = getattr(parent, q)
    parent.add_module(parts[-1], module)


class TinyModel(torch.nn.Module):
    def __init__(self, adapter, conf):
        super().__init__()
        # Both engines build the model under the checkpoint's dtype (`with set_default_torch_dtype(
        # model_config.dtype)`: sglang srt/model_loader/loader.py:838@0.5.23, vLLM
        # model_executor/model_loader/base_loader.py:73@0.33.0): the layers' params_dtype, which
        # sglang's W4A16 (Marlin) processing requires to be 16-bit (marlin_utils_fp4.py:148-150@0.5.23).
        default = torch.get_default_dtype()
        torch.set_default_dtype(getattr(torch, conf.get("torch_dtype", "float32")))
        try:
            self._build(adapter, conf)
        finally:
            torch.set_default_dtype(default)

    def _build(self, adapter, conf):
        self.adapter = adapter
        self.unreached = []
        self.scalar_loads = []
        self.after_load = None  # called once load_weights has fed every tensor (before processing)
        adapter.before_build()
        cfg = adapter.quant_config(conf.get("quantization_config", {}))
        H, I, L = conf["hidden_size"], conf["intermediate_size"], conf["num_hidden_layers"]
        nh, nkv, hd = conf["num_attention_heads"], conf["num_key_value_heads"], conf["head_dim"]
        self.experts_count = E = conf.get("num_experts", 0)
        lin = adapter.lin
        for layer in range(L):
            p = f"model.layers.{layer}"
            _attach(self, f"{p}.self_attn.qkv_proj", lin.QKVParallelLinear(
                H, hd, nh, nkv, bias=False, quant_config=cfg, prefix=f"{p}.self_attn.qkv_proj"))
            _attach(self, f"{p}.self_attn.o_proj", lin.RowParallelLinear(
                nh * hd, H, bias=False, quant_config=cfg, prefix=f"{p}.self_attn.o_proj"))
            if E:
                _attach(self, f"{p}.mlp.experts", adapter.experts(cfg, E, H, I, f"{p}.mlp.experts"))
                continue
            _attach(self, f"{p}.mlp.gate_up_proj", lin.MergedColumnParallelLinear(
                H, [I, I], bias=False, quant_config=cfg, prefix=f"{p}.mlp.gate_up_proj"))
            _attach(self, f"{p}.mlp.down_proj", lin.RowParallelLinear(
                I, H, bias=False, quant_config=cfg, prefix=f"{p}.mlp.down_proj"))
        adapter.on_built(self)

    def _param(self, params, name):
        if name not in params:
            self.unreached.append((name, "no such parameter: processing deleted or renamed it"))
            return None
        if not hasattr(params[name], "weight_loader"):
            self.unreached.append((name, "its weight_loader is gone: processing replaced the parameter"))
            return None
        return params[name]

    def _load_expert(self, params, name, w, mapping):
        for param_name, weight_name, expert_id, shard_id in mapping:
            if weight_name not in name:
                continue
            target = name.replace(weight_name, param_name)
            p = self._param(params, target)
            if p is not None:
                self._record(target, w, (expert_id, shard_id))
                p.weight_loader(p, w, target, shard_id=shard_id, expert_id=expert_id)
            return True
        return False

    def _record(self, name, w, slot):
        # per-tensor scalars fed to a parameter: (name, shard id or (expert, shard) or None, value)
        if w.numel() == 1:
            self.scalar_loads.append((name, slot, float(w.float().reshape(-1)[0])))

    def load_weights(self, weights):
        self.scalar_loads = []
        params = dict(self.named_parameters())
        mapping = self.adapter.expert_mapping(self.experts_count) if self.experts_count else []
        for name, w in weights:
            if self._load_expert(params, name, w, mapping):
                continue
            for fused, shard, sid in STACKED:
                if shard in name:
                    p = self._param(params, name.replace(shard, fused))
                    if p is not None:
                        self._record(name.replace(shard, fused), w, sid)
                        p.weight_loader(p, w, sid)
                    break
            else:
                p = self._param(params, name)
                if p is not None:
                    self._record(name, w, None)
                    p.weight_loader(p, w)
        if self.after_load is not None:
            self.after_load(self)
