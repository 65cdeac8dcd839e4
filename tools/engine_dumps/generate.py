"""Dumps of sglang's and vLLM's own post-processed weights for `nvfp4 diff`'s tests.

Runs each engine's real create_weights, weight loaders and process_weights_after_loading on the
CPU over a checkpoint written by `nvfp4 make-checkpoint`, then writes the model's parameters with
tools/dump_engine_state.py. What is stubbed, and only that (see README.md here):
  - torch.Tensor.cuda is the identity (sglang's swizzle moves its result to the GPU);
  - tensor parallelism is one rank (sglang 0.5.23: a fake `parallel` context; 0.5.10.post1 to 0.5.15: the
    parallel_state getters; vLLM: gloo, world size 1);
  - backend selection: sglang's FP4 GEMM runner reports no special backend (so cutlass) on a
    Blackwell platform; vLLM's NVFP4 linear kernel is CutlassNvFp4LinearKernel (0.19.1: the
    VLLM_CUTLASS backend enum), and its MoE backend oracle answers with the backend asked for
    (both ask the GPU's compute capability, which a CPU cannot answer);
  - sglang 0.5.10.post1 to 0.5.15: the sgl_kernel package (imported, never called; SGLANG_RELEASES says why).
The engine release is the installed one; what differs between releases is a row of SGLANG_RELEASES
or VLLM_RELEASES.

usage: generate.py ENGINE CKPT_DIR OUT.safetensors [MOE_BACKEND]   (ENGINE: sglang | vllm)
"""
import glob
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import re
import socket
import sys
import types

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dump_engine_state import dump_model  # noqa: E402

torch.Tensor.cuda = lambda self, *a, **k: self
# FlashInfer's block_scale_interleave has a CPU path in its JIT module; build that for sm_90 (nvcc
# needs no GPU) and answer its compute-capability question for CPU tensors.
os.environ.setdefault("FLASHINFER_CUDA_ARCH_LIST", "9.0a")


def _flashinfer_on_cpu():
    # flashinfer/fp4_quantization.py up to 0.6.6 (vLLM 0.19.1's pin), flashinfer/quantization/ after.
    for name in ("flashinfer.quantization.fp4_quantization", "flashinfer.fp4_quantization"):
        try:
            fq = importlib.import_module(name)
        except ImportError:
            continue
        fq.get_compute_capability = lambda device: (9, 0)
        return

# Checkpoint shard names -> (fused engine parameter, shard id), as both engines' model files map them.
STACKED = [("qkv_proj", "q_proj", "q"), ("qkv_proj", "k_proj", "k"), ("qkv_proj", "v_proj", "v"),
           ("gate_up_proj", "gate_proj", 0), ("gate_up_proj", "up_proj", 1)]
PACKED = {"qkv_proj": ["q_proj", "k_proj", "v_proj"], "gate_up_proj": ["gate_proj", "up_proj"]}


class _OneRank:
    def __getattr__(self, n):
        if n.endswith("_group"):
            return None
        if n.endswith("_size"):
            return 1
        if n.endswith("_rank"):
            return 0
        raise AttributeError(n)


class _NoSpecialBackend:
    def __getattr__(self, n):
        if n.startswith("is_"):
            return lambda: False
        raise AttributeError(n)


def _one_rank(parallel_state):
    # Every get_*_rank() of parallel_state answers 0 and every get_*_world_size() 1, there and in
    # each loaded module that imported it by name (later imports take the answers from there).
    answers = {}
    for n in dir(parallel_state):
        if n.startswith("get_") and n.endswith("_rank"):
            answers[n] = lambda: 0
        elif n.startswith("get_") and n.endswith("_world_size"):
            answers[n] = lambda: 1
    originals = {n: getattr(parallel_state, n) for n in answers}
    for m in [m for name, m in list(sys.modules.items()) if name.startswith("sglang.srt") and m is not None]:
        for n, a in answers.items():
            if getattr(m, n, None) is originals[n]:
                setattr(m, n, a)


def _sglang_runtime_context(server_args):
    # 0.5.23: the MoE layer reads the published server config (srt/runtime_context.py); linear
    # layers read only the parallel context.
    import sglang.srt.runtime_context as rc
    rc.publish(server_args, role="scheduler")
    global _RANKS  # a context manager: kept alive, or collecting it would undo the override
    _RANKS = rc.get_parallel().override(**{n: 0 for n in rc._parallel_fields() if n.endswith("_rank")})
    _RANKS.__enter__()
    import sglang.srt.layers.moe.utils as mu
    mu.initialize_moe_config()
    import sglang.srt.layers.linear as lin
    lin.get_parallel = lambda: _OneRank()


def _sglang_global_server_args(server_args):
    # 0.5.10.post1: a process-global ServerArgs (set_global_server_args_for_scheduler) and the
    # parallel getters each module imports from sglang.srt.distributed.
    import sglang.srt.distributed.parallel_state as ps
    import sglang.srt.layers.moe.fused_moe_triton.layer  # noqa: F401 (the layers, loaded before their getters answer)
    import sglang.srt.layers.moe.utils as mu
    from sglang.srt.server_args import set_global_server_args_for_scheduler
    set_global_server_args_for_scheduler(server_args)
    mu.initialize_moe_config(server_args)
    _one_rank(ps)


# What differs between the sglang releases run here, as rows: how the runtime context is set up,
# the Blackwell checks answered yes (module, name), and packages stubbed (import them and they
# hold names that raise when called). The layers, quantization methods, loaders and
# post-processing run are each release's own.
# Releases before runtime_context.publish (0.5.10.post1 to 0.5.15 here): a process-global ServerArgs,
# the parallel getters answered by module (0.5.15's runtime_context.get_parallel reads the same
# getters live), is_blackwell_supported answered yes. Their sgl_kernel is stubbed: 0.5.10.post1's
# pin (0.4.1) is not on PyPI, the later pins (sglang-kernel 0.4.2, 0.4.3, 0.4.4) are native builds
# for torch 2.11.0 (not the one run here) needing a CUDA driver; the code run imports it
# (srt/mem_cache/memory_pool_host.py, srt/layers/quantization/utils.py) and never calls it.
_GLOBAL_SERVER_ARGS = {"context": _sglang_global_server_args, "stubbed": ["sgl_kernel"],
                       "blackwell": [("sglang.srt.layers.quantization.modelopt_quant", "is_blackwell_supported"),
                                     ("sglang.srt.layers.quantization.compressed_tensors.schemes.compressed_tensors_w4a4_nvfp4_moe",
                                      "is_blackwell_supported")]}

SGLANG_RELEASES = {
    "0.5.23": {"context": _sglang_runtime_context, "stubbed": [],
               "blackwell": [("sglang.srt.layers.quantization.modelopt_quant", "get_platform"),
                             ("sglang.srt.layers.quantization.compressed_tensors.schemes.compressed_tensors_w4a4_nvfp4_moe", "get_platform")]},
    "0.5.10.post1": _GLOBAL_SERVER_ARGS,
    "0.5.11": _GLOBAL_SERVER_ARGS,
    "0.5.13": _GLOBAL_SERVER_ARGS,
    "0.5.15": _GLOBAL_SERVER_ARGS,
}


class _Never:
    """A stubbed package's names: anything looked up on them is another, calling one raises."""
    def __init__(self, name):
        self._name = name

    def __getattr__(self, n):
        if n.startswith("__"):
            raise AttributeError(n)
        return _Never(f"{self._name}.{n}")

    def __call__(self, *a, **k):
        raise RuntimeError(f"stubbed {self._name} was called")


class _StubModule(types.ModuleType):
    def __getattr__(self, n):
        if n.startswith("__"):
            raise AttributeError(n)
        return _Never(f"{self.__name__}.{n}")


class _StubPackage(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of `root` and its submodules give _StubModules."""
    def __init__(self, root):
        self.root = root

    def find_spec(self, name, path, target=None):
        if name == self.root or name.startswith(self.root + "."):
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _StubModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def _is_blackwell(module, name):
    m = importlib.import_module(module)
    setattr(m, name, (lambda: types.SimpleNamespace(is_blackwell=True)) if name == "get_platform" else (lambda: True))


def sglang_factory(moe_backend, quant):
    # A throwaway llama config satisfies ServerArgs.
    import tempfile
    import importlib.metadata
    release = SGLANG_RELEASES[importlib.metadata.version("sglang")]
    for root in release["stubbed"]:
        sys.meta_path.insert(0, _StubPackage(root))
    from sglang.srt.server_args import ServerArgs
    hf = tempfile.mkdtemp()
    json.dump({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 64, "intermediate_size": 64,
               "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 1, "vocab_size": 256,
               "max_position_embeddings": 128}, open(os.path.join(hf, "config.json"), "w"))
    release["context"](ServerArgs(model_path=hf, device="cpu", moe_runner_backend=moe_backend or "flashinfer_cutlass"))
    _flashinfer_on_cpu()
    import sglang.srt.layers.linear as lin
    import sglang.srt.layers.quantization.modelopt_quant as mq
    mq.get_fp4_gemm_runner_backend = lambda: _NoSpecialBackend()
    for module, name in release["blackwell"]:
        _is_blackwell(module, name)
    cfg = mq.ModelOptFp4Config(is_checkpoint_nvfp4_serialized=True, group_size=16, exclude_modules=[],
                               packed_modules_mapping=PACKED)
    if quant.get("quant_method") == "compressed-tensors":
        from sglang.srt.layers.quantization.compressed_tensors import compressed_tensors as sct
        import sglang.srt.layers.quantization.compressed_tensors.schemes.compressed_tensors_w4a4_nvfp4 as sw
        sw.get_fp4_gemm_runner_backend = lambda: _NoSpecialBackend()
        sct.CompressedTensorsConfig._check_scheme_supported = lambda self, min_capability, error=True: True  # a Blackwell
        cfg = sct.CompressedTensorsConfig.from_config(dict(quant, packed_modules_mapping=PACKED))
        cfg.packed_modules_mapping = PACKED
    from sglang.srt.layers.moe.fused_moe_triton.layer import FusedMoE

    def experts(E, H, I, prefix):
        m = FusedMoE(num_experts=E, hidden_size=H, intermediate_size=I, layer_id=0, top_k=2, quant_config=cfg, prefix=prefix)
        return m, "", m
    return lin, cfg, experts


def _vllm_kernel_classes(modules):
    # 0.20.0+: each NVFP4 linear method asks init_nvfp4_linear_kernel for a kernel object
    # (model_executor/kernels/linear/__init__.py:615@0.20.0); CutlassNvFp4LinearKernel it is.
    from vllm.model_executor.kernels.linear.nvfp4.base import NvFp4LinearLayerConfig
    from vllm.model_executor.kernels.linear.nvfp4.cutlass import CutlassNvFp4LinearKernel
    CutlassNvFp4LinearKernel.is_supported = classmethod(lambda cls, cc=None: (True, None))
    for m in modules:
        m.init_nvfp4_linear_kernel = lambda use_a16=False: CutlassNvFp4LinearKernel(NvFp4LinearLayerConfig())


def _vllm_backend_enum(modules):
    # 0.19.1: no kernel classes; each method keeps select_nvfp4_linear_backend()'s enum and
    # convert_to_nvfp4_linear_kernel_format branches on it
    # (model_executor/layers/quantization/utils/nvfp4_utils.py:39,163-170@0.19.1); VLLM_CUTLASS it is.
    from vllm.model_executor.layers.quantization.utils.nvfp4_utils import NvFp4LinearBackend
    for m in modules:
        m.select_nvfp4_linear_backend = lambda: NvFp4LinearBackend.VLLM_CUTLASS


_VCM = "vllm.model_executor.layers.quantization.compressed_tensors.compressed_tensors_moe"
# What differs between the vLLM releases run here, as rows: how the linear kernel is pinned to
# CUTLASS, the module whose compressed-tensors MoE method imported select_nvfp4_moe_backend, the
# experts' layer class and where its parameters sit under it, and the arguments ModelOptNvFp4Config
# takes beyond 0.33.0's. The layers, quantization methods, loaders and post-processing run are each
# release's own.
VLLM_RELEASES = {
    # FusedMoEFactory returns a MoERunner holding the parameters under routed_experts.
    # (model_executor/layers/fused_moe/layer.py:415@0.33.0).
    "0.33.0": {"linear": _vllm_kernel_classes, "ct_moe": _VCM + ".compressed_tensors_moe_w4a4_nvfp4",
               "experts": "FusedMoEFactory", "inner": "routed_experts", "modelopt_kw": {}},
    # FusedMoE, a function until its 0.27.0 rename, returns the MoERunner as above
    # (model_executor/layers/fused_moe/layer.py:100@0.26.0).
    "0.26.0": {"linear": _vllm_kernel_classes, "ct_moe": _VCM + ".compressed_tensors_moe_w4a4_nvfp4",
               "experts": "FusedMoE", "inner": "routed_experts", "modelopt_kw": {}},
    # FusedMoE is the layer and holds its parameters itself (model_executor/layers/fused_moe/layer.py:219@0.20.0);
    # ModelOptNvFp4Config still takes kv_cache_quant_algo (model_executor/layers/quantization/modelopt.py:1004-1010@0.20.0).
    "0.20.0": {"linear": _vllm_kernel_classes, "ct_moe": _VCM + ".compressed_tensors_moe_w4a4_nvfp4",
               "experts": "FusedMoE", "inner": "", "modelopt_kw": {"kv_cache_quant_algo": None}},
    "0.19.1": {"linear": _vllm_backend_enum, "ct_moe": _VCM, "experts": "FusedMoE", "inner": "",
               "modelopt_kw": {"kv_cache_quant_algo": None}},
}

# 0.28.0 as 0.33.0: FusedMoEFactory from its 0.27.0 rename (model_executor/layers/fused_moe/layer.py:99@0.28.0).
VLLM_RELEASES["0.28.0"] = VLLM_RELEASES["0.33.0"]


def vllm_factory(moe_backend, quant):
    import importlib.metadata
    release = VLLM_RELEASES[importlib.metadata.version("vllm").split("+")[0]]
    import vllm.distributed.parallel_state as ps
    import vllm.model_executor.layers.linear as lin
    import vllm.model_executor.layers.quantization.modelopt as vmo
    import vllm.model_executor.layers.quantization.compressed_tensors.schemes.compressed_tensors_w4a4_nvfp4 as vw
    from vllm.config import DeviceConfig, VllmConfig, set_current_vllm_config
    release["linear"]([vmo, vw])
    global _VLLM_CONFIG  # a context manager: kept alive, or collecting it would unset the config (0.19.1, 0.20.0)
    _VLLM_CONFIG = set_current_vllm_config(VllmConfig(device_config=DeviceConfig(device="cpu")))
    _VLLM_CONFIG.__enter__()
    with socket.socket() as probe:  # a free port: several dumps may run at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ps.init_distributed_environment(world_size=1, rank=0, distributed_init_method=f"tcp://127.0.0.1:{port}",
                                    local_rank=0, backend="gloo")
    ps.initialize_model_parallel(1, 1)
    cfg = vmo.ModelOptNvFp4Config(is_checkpoint_nvfp4_serialized=True, group_size=16, exclude_modules=[],
                                   **release["modelopt_kw"])
    if quant.get("quant_method") == "compressed-tensors":
        from vllm.model_executor.layers.quantization.compressed_tensors import compressed_tensors as vct
        cfg = vct.CompressedTensorsConfig.from_config(quant)
        cfg.packed_modules_mapping = PACKED
    # The MoE backend oracle answers with the backend asked for; its kernel object reads the
    # current device index, which is 0 here.
    _flashinfer_on_cpu()
    import vllm.model_executor.layers.fused_moe.layer as fml
    from vllm.model_executor.layers.fused_moe.oracle import nvfp4 as oracle
    backend = oracle.NvFp4MoeBackend[{"cutlass": "VLLM_CUTLASS", "flashinfer_cutlass": "FLASHINFER_CUTLASS",
                                      "flashinfer_trtllm": "FLASHINFER_TRTLLM"}[moe_backend or "cutlass"]]
    vmo.select_nvfp4_moe_backend = lambda config, weight_key=None, activation_key=None, **k: (
        backend, oracle.backend_to_kernel_cls(backend)[0])
    importlib.import_module(release["ct_moe"]).select_nvfp4_moe_backend = vmo.select_nvfp4_moe_backend
    torch.accelerator.current_device_index = lambda: 0
    layer_cls = getattr(fml, release["experts"])

    def experts(E, H, I, prefix):
        m = layer_cls(num_experts=E, top_k=2, hidden_size=H, intermediate_size=I, quant_config=cfg, prefix=prefix)
        inner = release["inner"]
        return m, inner + "." if inner else "", getattr(m, inner) if inner else m
    return lin, cfg, experts


def attach(root, name, module):
    parent = root
    parts = name.split(".")
    for q in parts[:-1]:
        if not hasattr(parent, q):
            parent.add_module(q, torch.nn.Module())
        parent = getattr(parent, q)
    parent.add_module(parts[-1], module)


EXPERT = re.compile(r"(.*\.experts)\.(\d+)\.(gate_proj|up_proj|down_proj)\.(.*)")


def main():
    engine, ckpt, out = sys.argv[1:4]
    moe_backend = sys.argv[4] if len(sys.argv) > 4 else None
    tensors = {}
    for f in sorted(glob.glob(os.path.join(ckpt, "*.safetensors"))):
        tensors.update(load_file(f))
    conf = json.load(open(os.path.join(ckpt, "config.json")))
    H, I, L = conf["hidden_size"], conf["intermediate_size"], conf["num_hidden_layers"]
    nh, nkv, hd = conf["num_attention_heads"], conf["num_key_value_heads"], conf["head_dim"]
    E = conf.get("num_experts", 0)
    lin, cfg, experts = (sglang_factory if engine == "sglang" else vllm_factory)(
        moe_backend, conf.get("quantization_config", {}))
    root = torch.nn.Module()
    mods = {}
    post = {}  # module name -> the layer whose quant_method post-processes it
    inner = {}  # experts module name -> where its parameters sit under it
    for layer in range(L):
        p = f"model.layers.{layer}"
        mods[f"{p}.self_attn.qkv_proj"] = lin.QKVParallelLinear(H, hd, nh, nkv, bias=False, quant_config=cfg,
                                                                prefix=f"{p}.self_attn.qkv_proj")
        mods[f"{p}.self_attn.o_proj"] = lin.RowParallelLinear(nh * hd, H, bias=False, quant_config=cfg,
                                                              prefix=f"{p}.self_attn.o_proj")
        if E:
            mods[f"{p}.mlp.experts"], inner[f"{p}.mlp.experts"], post[f"{p}.mlp.experts"] = experts(E, H, I, f"{p}.mlp.experts")
            continue
        mods[f"{p}.mlp.gate_up_proj"] = lin.MergedColumnParallelLinear(H, [I, I], bias=False, quant_config=cfg,
                                                                       prefix=f"{p}.mlp.gate_up_proj")
        mods[f"{p}.mlp.down_proj"] = lin.RowParallelLinear(I, H, bias=False, quant_config=cfg,
                                                           prefix=f"{p}.mlp.down_proj")
    for name, m in mods.items():
        attach(root, name, m)
    params = dict(root.named_parameters())
    for name, w in tensors.items():
        m = EXPERT.match(name)
        if m:  # the model files' expert mapping: gate -> w13 shard w1, up -> w13 shard w3, down -> w2
            mod, e, proj, rest = m.group(1), int(m.group(2)), m.group(3), m.group(4)
            pn = f"{mod}.{inner[mod]}" + ("w2_" if proj == "down_proj" else "w13_") + rest
            sid = {"gate_proj": "w1", "up_proj": "w3", "down_proj": "w2"}[proj]
            params[pn].weight_loader(params[pn], w, pn, shard_id=sid, expert_id=e)
            continue
        for fused, shard, sid in STACKED:
            if f".{shard}." in name:
                pn = name.replace(f".{shard}.", f".{fused}.")
                params[pn].weight_loader(params[pn], w, sid)
                break
        else:
            if name in params:
                params[name].weight_loader(params[name], w)
    for name, m in mods.items():
        layer = post.get(name, m)
        layer.quant_method.process_weights_after_loading(layer)
    dump_model(root, out, engine=engine, backend=moe_backend or "cutlass")


if __name__ == "__main__":
    main()
