"""sglang's own model, loaders, post-processing and hot reload, run on the CPU.

One adapter for every release; what differs between releases is a row of RELEASES. The model is
the release's own class (srt/models/llama.py LlamaForCausalLM, srt/models/qwen3_moe.py
Qwen3MoeForCausalLM for experts), built whole by build_model; its layers' quantization methods
(ModelOpt, compressed-tensors, read from the checkpoint's quantization_config by the release's
from_config) and DefaultModelLoader.load_weights_and_postprocess (srt/model_loader/loader.py: the
model's own load_weights over the parameters it has now, then every quant_method's
process_weights_after_loading; update_weights_from_disk runs the same function) are the
release's own. stubs.py lists what is stubbed.
"""
import importlib.metadata
import json
import os
import tempfile
import types

import torch

from . import stubs
from . import model as ckpt


def _runtime_context(server_args):
    # 0.5.23: the MoE layer reads the published server config (srt/runtime_context.py); linear
    # layers read only the parallel context.
    import sglang.srt.runtime_context as rc
    rc.publish(server_args, role="scheduler")
    # the model classes read the groups too (llama.py:564@0.5.23, get_parallel().pp_group.is_last_rank)
    ranks = rc.get_parallel().override(**{n: 0 for n in rc._parallel_fields() if n.endswith("_rank")},
                                       **{n: stubs.OneRankGroup() for n in rc._parallel_fields() if n.endswith("_group")})
    ranks.__enter__()
    import sglang.srt.layers.moe.utils as mu
    mu.initialize_moe_config()
    import sglang.srt.layers.linear as lin
    lin.get_parallel = lambda: stubs.OneRank()
    return ranks  # a context manager: kept alive, or collecting it would undo the override


def _global_server_args(server_args):
    # 0.5.10.post1, 0.5.11: a process-global ServerArgs and the parallel getters each module
    # imports from sglang.srt.distributed.
    import sglang.srt.distributed.parallel_state as ps
    import sglang.srt.layers.moe.fused_moe_triton.layer  # noqa: F401 (loaded before its getters answer)
    import sglang.srt.layers.moe.utils as mu
    from sglang.srt.server_args import set_global_server_args_for_scheduler
    set_global_server_args_for_scheduler(server_args)
    mu.initialize_moe_config(server_args)
    stubs.one_rank_getters(ps, "sglang.srt")
    # what the scheduler's model runner does before building the model: the MoE model's layer
    # communicator reads the attention DP size (srt/layers/dp_attention.py:271@0.5.10.post1); of
    # the model config it keeps only the hidden size and dtype, for forward's gather buffers
    from sglang.srt.layers.dp_attention import initialize_dp_attention
    initialize_dp_attention(server_args, types.SimpleNamespace(hidden_size=64, dtype=torch.bfloat16))


_MQ = "sglang.srt.layers.quantization.modelopt_quant"
_CTM = "sglang.srt.layers.quantization.compressed_tensors.schemes.compressed_tensors_w4a4_nvfp4_moe"

# Per release: how the runtime context is set up, the Blackwell checks answered yes, packages
# stubbed, the MoE runners whose post-processing runs on a CPU, and the release's own refusals of
# one (text it raises while the model is built, where). The plain `cutlass` runner
# (cutlass_moe_fp4) serves compressed-tensors experts in every release (its MoE method takes the
# non-trtllm path for any other backend); ModelOpt experts 0.5.11-0.5.14 and 0.5.16+ refuse it
# while building the layer: such a spec is counted as refused by the release, with its message.
_RUNNER_REFUSES = [("Unsupported runner backend", "srt/layers/moe/moe_runner/runner.py:66@0.5.11, :67@0.5.14")]
RELEASES = {
    "0.5.23": {"context": _runtime_context, "stubbed": [],
               "blackwell": [(_MQ, "get_platform"), (_CTM, "get_platform")],
               "backends": ["cutlass", "flashinfer_cutlass", "flashinfer_trtllm"],
               "refuses": [("moe_runner_backend=cutlass is not supported for NVFP4 MoE",
                            "srt/layers/quantization/modelopt_quant.py:3144-3148@0.5.23")]},
    # sgl_kernel: 0.4.1 (the pin) is not on PyPI and its native ops need a CUDA driver; the code
    # run imports it (srt/layers/quantization/utils.py) and never calls it.
    "0.5.10.post1": {"context": _global_server_args, "stubbed": ["sgl_kernel"],
                     "blackwell": [(_MQ, "is_blackwell_supported"), (_CTM, "is_blackwell_supported")],
                     "backends": ["cutlass", "flashinfer_cutlass", "flashinfer_trtllm"]},
    # 0.5.11's pin (sglang-kernel 0.4.2) is a native build for torch 2.11.0 and a CUDA driver.
    "0.5.11": {"context": _global_server_args, "stubbed": ["sgl_kernel"],
               "blackwell": [(_MQ, "is_blackwell_supported"), (_CTM, "is_blackwell_supported")],
               "backends": ["cutlass", "flashinfer_cutlass", "flashinfer_trtllm"], "refuses": _RUNNER_REFUSES},
    # 0.5.13 and 0.5.15 as 0.5.11 (their sglang-kernel pins, 0.4.3 and 0.4.4, are native builds for
    # torch 2.11.0 too; 0.5.15's runtime_context.get_parallel reads the same getters live). 0.5.15
    # serves the plain cutlass runner again (create_moe_runner skips MoeRunner for it). Rows kept
    # for tools/engine_dumps/generate.py; engines/envs.tsv has no venv row for them yet.
    "0.5.13": {"context": _global_server_args, "stubbed": ["sgl_kernel"],
               "blackwell": [(_MQ, "is_blackwell_supported"), (_CTM, "is_blackwell_supported")],
               "backends": ["cutlass", "flashinfer_cutlass", "flashinfer_trtllm"], "refuses": _RUNNER_REFUSES},
    "0.5.15": {"context": _global_server_args, "stubbed": ["sgl_kernel"],
               "blackwell": [(_MQ, "is_blackwell_supported"), (_CTM, "is_blackwell_supported")],
               "backends": ["cutlass", "flashinfer_cutlass", "flashinfer_trtllm"]},
}


class Adapter:
    engine = "sglang"

    def __init__(self, backend):
        self.version = importlib.metadata.version("sglang")
        self.release = RELEASES[self.version]
        self.backend = backend
        for root in self.release["stubbed"]:
            stubs.stub_package(root)
        stubs.cuda_is_identity()
        # RotaryEmbedding imports a native fallback kernel it calls only in forward, from a package
        # sglang does not install (srt/layers/rotary_embedding/base.py:138@0.5.23, :90@0.5.10.post1)
        stubs.stub_module("vllm._custom_ops")
        from sglang.srt.server_args import ServerArgs
        hf = tempfile.mkdtemp()  # a throwaway llama config satisfies ServerArgs
        with open(os.path.join(hf, "config.json"), "w") as f:
            json.dump({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64,
                       "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
                       "num_hidden_layers": 1, "vocab_size": 256, "max_position_embeddings": 128}, f)
        self._keep = self.release["context"](ServerArgs(model_path=hf, device="cpu", moe_runner_backend=backend))
        stubs.flashinfer_on_cpu()
        import sglang.srt.layers.quantization.modelopt_quant as mq
        mq.get_fp4_gemm_runner_backend = lambda: stubs.NoSpecialBackend()
        for module, name in self.release["blackwell"]:
            stubs.answer_blackwell(module, name)

    def refusal(self, e):
        """The release's own refusal of this backend for the checkpoint being built (an exception
        it raised), as one line, or None: the spec is then counted as refused, never as passed."""
        for text, where in self.release.get("refuses", []):
            if isinstance(e, NotImplementedError) and text in str(e):
                return f"sglang {self.version} refuses --moe-runner-backend {self.backend} here: {e} ({where})"
        return None

    @staticmethod
    def cpu_cannot(spec):
        """Why a spec cannot run on a CPU here, or None: counted as refused, never as passed."""
        if spec.fmt == "compressed-tensors" and spec.w4a16:
            # the W4A16 (Marlin) path allocates its workspace on the GPU
            # (srt/layers/quantization/marlin_utils.py:271@0.5.23)
            return "sglang's compressed-tensors W4A16 processing (Marlin) needs a CUDA device"
        return None

    def quant_config(self, quant):
        import sglang.srt.layers.quantization.modelopt_quant as mq
        if quant.get("quant_method") != "compressed-tensors":
            # the release's own reading of config.json's quantization_config (its `ignore` list keeps
            # lm_head and the router unquantized); the loader sets the model class's packed modules
            cfg = mq.ModelOptFp4Config.from_config(quant)
            cfg.packed_modules_mapping = ckpt.PACKED
            return cfg
        from sglang.srt.layers.quantization.compressed_tensors import compressed_tensors as sct
        import sglang.srt.layers.quantization.compressed_tensors.schemes.compressed_tensors_w4a4_nvfp4 as sw
        sw.get_fp4_gemm_runner_backend = lambda: stubs.NoSpecialBackend()
        sct.CompressedTensorsConfig._check_scheme_supported = lambda self, min_capability, error=True: True
        cfg = sct.CompressedTensorsConfig.from_config(dict(quant, packed_modules_mapping=ckpt.PACKED))
        cfg.packed_modules_mapping = ckpt.PACKED
        return cfg

    def build_model(self, conf):
        """The release's own model class for the checkpoint (LlamaForCausalLM, or Qwen3MoeForCausalLM
        with experts), built as DefaultModelLoader builds it: under the checkpoint's dtype, on the
        target device (srt/model_loader/loader.py:838-839@0.5.23), tp 1."""
        if conf.get("num_experts", 0):
            from sglang.srt.models.qwen3_moe import Qwen3MoeForCausalLM as cls
        else:
            from sglang.srt.models.llama import LlamaForCausalLM as cls
        quant = self.quant_config(conf.get("quantization_config", {}))
        with ckpt.checkpoint_dtype(conf), torch.device("cpu"):
            return cls(ckpt.hf_config(conf), quant_config=quant)

    def cold_load(self, model, weights):
        """Cold load is the same function as a reload: DefaultModelLoader.load_model ends in it."""
        self.reload(model, weights)

    def reload(self, model, weights):
        from sglang.srt.model_loader.loader import DefaultModelLoader
        DefaultModelLoader.load_weights_and_postprocess(model, weights, torch.device("cpu"))
