"""A tiny model of the engine's own layers with a copy of the model files' loader: only for an
adapter that has no `build_model(conf)` yet (vLLM's, until it builds the engine's own model
class as sglang's adapter does). Delete it once every adapter has `build_model`.

The layers (qkv_proj, o_proj, gate_up_proj, down_proj, or experts) are the engine's own classes,
built through the adapter. `load_weights` is what the model files do (vLLM
model_executor/models/llama.py load_weights): shard names map to the fused parameter with the
stacked shard id, expert names through the engine's own expert mapping, everything else by its
name with the parameter's weight_loader and no shard id (a checkpoint fused on disk); a name the
model does not have is skipped, as the model files skip it.
"""
import torch

from .model import _attach, checkpoint_dtype

STACKED = [(".qkv_proj", ".q_proj", "q"), (".qkv_proj", ".k_proj", "k"), (".qkv_proj", ".v_proj", "v"),
           (".gate_up_proj", ".gate_proj", 0), (".gate_up_proj", ".up_proj", 1)]


class TinyModel(torch.nn.Module):
    def __init__(self, adapter, conf):
        super().__init__()
        with checkpoint_dtype(conf):
            self._build(adapter, conf)

    def _build(self, adapter, conf):
        self.adapter = adapter
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

    def _loader(self, params, name):
        p = params.get(name)
        return p if p is not None and hasattr(p, "weight_loader") else None

    def _load_expert(self, params, name, w, mapping):
        for param_name, weight_name, expert_id, shard_id in mapping:
            if weight_name not in name:
                continue
            target = name.replace(weight_name, param_name)
            p = self._loader(params, target)
            if p is not None:
                p.weight_loader(p, w, target, shard_id=shard_id, expert_id=expert_id)
            return True
        return False

    def load_weights(self, weights):
        params = dict(self.named_parameters())
        mapping = self.adapter.expert_mapping(self.experts_count) if self.experts_count else []
        for name, w in weights:
            if self._load_expert(params, name, w, mapping):
                continue
            for fused, shard, sid in STACKED:
                if shard in name:
                    p = self._loader(params, name.replace(shard, fused))
                    if p is not None:
                        p.weight_loader(p, w, sid)
                    break
            else:
                p = self._loader(params, name)
                if p is not None:
                    p.weight_loader(p, w)
