"""Every stub the harness puts under an engine's code, and why: only questions a CPU cannot answer.

What is stubbed (the adapters install these; nothing else of the engines is replaced):
  cuda_is_identity   torch.Tensor.cuda returns the tensor: sglang and vLLM <= 0.19.1 move their
                     swizzled scales to the GPU (`.cuda()` in sglang srt/layers/quantization/utils.py,
                     vLLM quantization/utils/nvfp4_utils.py:308@0.19.1), and there is none.
  flashinfer_on_cpu  FlashInfer's block_scale_interleave has a CPU path in its JIT module; it is built
                     for sm_90 (nvcc needs no GPU) and get_compute_capability answers (9, 0) for CPU
                     tensors (flashinfer/quantization/fp4_quantization.py asks the device; up
                     to 0.6.6 flashinfer/fp4_quantization.py). Its JIT cache is the venv's own.
  one_rank           tensor parallelism is one rank: every get_*_rank() is 0 and every
                     get_*_world_size() 1 (sglang's parallel_state getters or its runtime context;
                     vLLM runs its own init_distributed_environment on gloo with world size 1);
                     sglang's process groups, which its model classes read (pp_group.is_last_rank
                     decides whether norm and lm_head are built), are OneRankGroup: one rank, no
                     communicator (the model is built and loaded, never run).
  backend choice     the FP4 GEMM / MoE backend an engine would pick from the GPU is the one asked
                     for (adapters: sglang's get_fp4_gemm_runner_backend and its Blackwell checks,
                     vLLM's linear kernel selection and select_nvfp4_moe_backend).
  StubPackage        a native kernel package the code run only imports (sgl_kernel): its names
                     raise when called, so a call would show, never pass silently.
  stub_module        the same for one module whose package is absent: sglang's RotaryEmbedding
                     imports vllm._custom_ops.rotary_embedding, its forward's fallback kernel
                     (srt/layers/rotary_embedding/base.py:138@0.5.23); vllm itself stays absent.
  attention backend  vLLM's Attention asks the platform for a backend, and vLLM's platform on a
                     machine without a GPU answers none: FLASH_ATTN, a CUDA platform's first choice
                     on Hopper (engines/vllm_model.py; platforms/cuda.py:176@0.33.0).
Nothing of either engine's model is left unbuilt (engines/README.md): its own LlamaForCausalLM /
Qwen3MoeForCausalLM with embedding, attention, rotary, norms, lm_head and logits processor.
"""
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types

import torch

# FlashInfer reads the arch list when it is imported (the engines import it early): set on import.
os.environ.setdefault("FLASHINFER_CUDA_ARCH_LIST", "9.0a")
# Its JIT cache (~/.cache/flashinfer/VERSION/ARCH) is keyed by version only, yet each build.ninja
# there names the sources of the venv that built it (flashinfer/jit/env.py:51-55@0.6.6): a cache
# left by a venv since deleted fails every later build. One cache per venv, inside it.
os.environ.setdefault("FLASHINFER_WORKSPACE_BASE", sys.prefix)

#: (stub, why) as listed above; the report prints it so a reader sees what did not run.
STUBS = [
    ("torch.Tensor.cuda", "identity: no GPU to move tensors to"),
    ("flashinfer get_compute_capability", "(9, 0) for CPU tensors: the JIT CPU interleave asks the device"),
    ("tensor-parallel rank/world size", "rank 0 of 1: no process group"),
    ("backend selection", "the backend asked for: the engine would ask the GPU"),
    ("vLLM marlin_utils.num_compute_units", "132 (an H100's SMs): sizes W4A16's scratch workspace"),
    ("sgl_kernel (sglang <= 0.5.11)", "imported, never called: native build for another torch and a CUDA driver"),
    ("sglang process groups", "one rank, no communicator: the model is built and loaded, never run"),
    ("vllm._custom_ops (sglang)", "imported by RotaryEmbedding for its forward, never called"),
    ("vLLM attention backend selection", "FLASH_ATTN, a CUDA platform's first choice on Hopper: "
     "vLLM's platform without a GPU answers none (engines/vllm_model.py)"),
]


def cuda_is_identity():
    torch.Tensor.cuda = lambda self, *a, **k: self


def flashinfer_on_cpu():
    # flashinfer/fp4_quantization.py up to 0.6.6 (vLLM 0.19.1's pin), flashinfer/quantization/ after
    for name in ("flashinfer.quantization.fp4_quantization", "flashinfer.fp4_quantization"):
        try:
            fq = importlib.import_module(name)
        except ImportError:
            continue
        fq.get_compute_capability = lambda device: (9, 0)
        return


class OneRank:
    """A parallel context of one rank: *_group None, *_size 1, *_rank 0."""
    def __getattr__(self, n):
        if n.endswith("_group"):
            return None
        if n.endswith("_size"):
            return 1
        if n.endswith("_rank"):
            return 0
        raise AttributeError(n)


class OneRankGroup:
    """A process group of one rank, as the model classes read it (sglang's GroupCoordinator:
    is_first_rank / is_last_rank decide whether the embedding, norm and lm_head are built)."""
    rank = rank_in_group = local_rank = first_rank = last_rank = 0
    world_size = 1
    ranks = (0,)
    is_first_rank = is_last_rank = True
    device_group = cpu_group = None


class NoSpecialBackend:
    """sglang's FP4 GEMM runner backend: no special one (marlin, trtllm, ...), so cutlass."""
    def __getattr__(self, n):
        if n.startswith("is_"):
            return lambda: False
        raise AttributeError(n)


def one_rank_getters(parallel_state, prefix):
    """Every get_*_rank() of parallel_state answers 0 and get_*_world_size() 1, there and in each
    loaded module under `prefix` that imported it by name."""
    answers = {}
    for n in dir(parallel_state):
        if n.startswith("get_") and n.endswith("_rank"):
            answers[n] = lambda: 0
        elif n.startswith("get_") and n.endswith("_world_size"):
            answers[n] = lambda: 1
    one_rank_groups(parallel_state)
    originals = {n: getattr(parallel_state, n) for n in answers}
    for m in [m for name, m in list(sys.modules.items()) if name.startswith(prefix) and m is not None]:
        for n, a in answers.items():
            if getattr(m, n, None) is originals[n]:
                setattr(m, n, a)


def one_rank_groups(parallel_state):
    """The model classes read the groups themselves (get_pp_group().is_last_rank,
    srt/models/llama.py:470@0.5.10.post1): every unset group a one-rank one (not pdmux's, which
    exists only when that mode is on)."""
    for n, hint in vars(parallel_state).get("__annotations__", {}).items():
        if "GroupCoordinator" in str(hint) and "PDMUX" not in n and getattr(parallel_state, n, 0) is None:
            setattr(parallel_state, n, OneRankGroup())


class _Never:
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


class StubPackage(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of `root` and its submodules give modules whose names raise when called."""
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


def stub_package(root):
    sys.meta_path.insert(0, StubPackage(root))


def stub_module(name):
    """`name` imports as a module whose names raise when called, its parent package left absent
    (the import system finds a dotted name in sys.modules before it imports the parent)."""
    sys.modules.setdefault(name, _StubModule(name))


def answer_blackwell(module, name):
    """sglang's Blackwell checks (get_platform().is_blackwell or is_blackwell_supported()) say yes."""
    m = importlib.import_module(module)
    yes = (lambda: types.SimpleNamespace(is_blackwell=True)) if name == "get_platform" else (lambda: True)
    setattr(m, name, yes)
