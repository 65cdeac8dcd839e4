"""vLLM's own model class for a synthetic checkpoint, built on the CPU as vLLM builds it.

`nvfp4 make-checkpoint` writes a Llama-shaped checkpoint ("SyntheticForCausalLM": embeddings,
norms, q/k/v/o, gate/up/down or experts with a router, lm_head). Here its config.json becomes an
HF config directory of a class vLLM ships (dense: `llama` / LlamaForCausalLM; experts:
`qwen3_moe` / Qwen3MoeForCausalLM with no shared expert), then a ModelConfig and a VllmConfig
that vLLM derives its quantization config from, and the model comes from
model_loader/utils.py `initialize_model` (the quant config's packed-module mapping from the
class, construction under the VllmConfig, `record_metadata_for_reloading` right after) under the
checkpoint's dtype on the CPU, as model_loader/base_loader.py `load_model` calls it
(base_loader.py:53-55@0.19.1, :73-76@0.33.0). Its `load_weights` is the class's own, unchanged: LlamaModel's and
Qwen3MoeModel's loops (0.19.1, 0.20.0) or AutoWeightsLoader with the class's WeightsMapper (0.33.0).

Stubbed here (listed with the others in stubs.py STUBS), a question a CPU cannot answer:
  attention backend   vLLM's platform for a machine without a GPU (UnspecifiedPlatform) answers
                      no attention backend (platforms/interface.py:241@0.19.1, :396@0.33.0); the
                      answer is the one a CUDA platform gives a Hopper GPU for a non-MLA decoder,
                      FLASH_ATTN, first in its priorities (platforms/cuda.py:109@0.19.1,
                      :176@0.33.0). Attention builds for real; its kv-cache scales are processed
                      by the layer's own process_weights_after_loading.
Everything else builds for real: VocabParallelEmbedding, Attention with its quant method, rotary
embedding, RMSNorm, the quantized linears and experts, ParallelLMHead, LogitsProcessor.
"""
import json
import os
import tempfile

import torch

from . import model as ckpt

# vLLM and transformers resolve a config directory through huggingface_hub; the directory here is
# local and nothing may be fetched (huggingface_hub reads this when it is imported).
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def hf_config(conf):
    """The HF config.json (a dict) of the vLLM class that holds the checkpoint's tensors: the
    transformers config the harness gives both engines (model.hf_config: LlamaConfig, or
    Qwen3MoeConfig with no shared expert and every layer sparse), with the class to build and the
    checkpoint's quantization_config, which vLLM derives its quant config from."""
    hf = ckpt.hf_config(conf).to_dict()
    experts = conf.get("num_experts", 0)
    hf.update(architectures=["Qwen3MoeForCausalLM" if experts else "LlamaForCausalLM"],
              quantization_config=conf["quantization_config"])
    return hf


def _attention_backend_is_flash_attn():
    from vllm.platforms import current_platform
    from vllm.v1.attention.backends.registry import AttentionBackendEnum
    path = AttentionBackendEnum.FLASH_ATTN.get_path()
    type(current_platform).get_attn_backend_cls = classmethod(lambda cls, *a, **k: path)


class Built:
    """A model's VllmConfig and the directory its ModelConfig reads (removed with this object)."""

    def __init__(self, conf):
        from vllm.config import DeviceConfig, ModelConfig, VllmConfig
        self._dir = tempfile.TemporaryDirectory(prefix="nvfp4-vllm-config-")
        with open(os.path.join(self._dir.name, "config.json"), "w") as f:
            json.dump(hf_config(conf), f)
        # quantization comes from the config's quantization_config, as for a real checkpoint
        # (config/model.py _verify_quantization; ModelOpt's "modelopt" becomes modelopt_fp4)
        model_config = ModelConfig(model=self._dir.name, skip_tokenizer_init=True,
                                   dtype=conf.get("torch_dtype", "bfloat16"))
        self.vllm_config = VllmConfig(model_config=model_config, device_config=DeviceConfig(device="cpu"))
        self.model_config = model_config


def build_model(conf):
    """(model, Built): vLLM's own model class for the checkpoint's config, tp = 1, on the CPU."""
    from vllm.model_executor.model_loader.utils import initialize_model
    from vllm.utils.torch_utils import set_default_torch_dtype
    from vllm.model_executor.layers import rotary_embedding
    _attention_backend_is_flash_attn()
    # get_rope hands every caller with the same sizes one RotaryEmbedding per process
    # (model_executor/layers/rotary_embedding/__init__.py:77-78@0.19.1, :84-85@0.33.0): an engine
    # process holds one model, the harness several. A reload that raised leaves that module's
    # cos_sin_cache on the meta device, and the next model would share it; each model its own.
    rotary_embedding._ROPE_DICT.clear()
    built = Built(conf)
    with set_default_torch_dtype(built.model_config.dtype), torch.device("cpu"):
        model = initialize_model(vllm_config=built.vllm_config, model_config=built.model_config)
    return model, built
