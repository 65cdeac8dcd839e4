"""vLLM's own layers, loaders, post-processing and layerwise reload, run on the CPU.

One adapter for every release; what differs is a row of RELEASES. Run as released: the layers
(model_executor/layers/linear.py, fused_moe/layer.py), ModelOpt and compressed-tensors methods,
the expert mapping (make_expert_params_mapping), model_loader/utils.py's
process_weights_after_loading and its reload (model_loader/reload/layerwise.py: the model is
recorded on meta tensors after construction; a reload restores each layer on meta, buffers its
weights, processes it and copies the result into the tensors the kernels hold,
gpu_model_runner.py:4960-4962@0.19.1). stubs.py lists what is stubbed. `build_model` builds
vLLM's own model class for the checkpoint (vllm_model.py, with its own stubs).
"""
import contextlib
import importlib
import importlib.metadata
import socket
import weakref

import torch

from . import stubs, vllm_model

_MO = "vllm.model_executor.layers.quantization.modelopt"
_CTL = "vllm.model_executor.layers.quantization.compressed_tensors.schemes.compressed_tensors_w4a4_nvfp4"


def _cutlass_backend(mods):
    # 0.19.1: ModelOptNvFp4LinearMethod.__init__ calls select_nvfp4_linear_backend() (modelopt.py:1077)
    from vllm.model_executor.layers.quantization.utils.nvfp4_utils import NvFp4LinearBackend
    for m in mods:
        importlib.import_module(m).select_nvfp4_linear_backend = lambda: NvFp4LinearBackend.VLLM_CUTLASS


def _cutlass_kernel(mods):
    # 0.20.0+: init_nvfp4_linear_kernel() picks a kernel class by device (kernels/linear/__init__.py)
    from vllm.model_executor.kernels.linear.nvfp4.base import NvFp4LinearLayerConfig
    from vllm.model_executor.kernels.linear.nvfp4.cutlass import CutlassNvFp4LinearKernel
    CutlassNvFp4LinearKernel.is_supported = classmethod(lambda cls, cc=None: (True, None))
    for m in mods:
        importlib.import_module(m).init_nvfp4_linear_kernel = lambda *a, **k: CutlassNvFp4LinearKernel(
            NvFp4LinearLayerConfig())


_CTM_OLD = "vllm.model_executor.layers.quantization.compressed_tensors.compressed_tensors_moe"
_CTM_NEW = _CTM_OLD + ".compressed_tensors_moe_w4a4_nvfp4"

# Per release: how the linear GEMM is chosen, the compressed-tensors MoE
# module that imports the backend oracle, and whether the worker reloads under the model's
# VllmConfig (0.33.0: v1/worker/gpu_worker.py:637; 0.19.1 and 0.20.0 do not, gpu_worker.py:328,
# so the process-wide default answers there; cold loads run under it in all three,
# gpu_worker.py:321@0.19.1, :597@0.33.0). Every release post-processes all three MoE backends on
# a CPU (oracle/nvfp4.py map_nvfp4_backend refuses none by name).
RELEASES = {
    "0.19.1": {"linear": _cutlass_backend, "ct_moe": _CTM_OLD, "reload_config": False},
    "0.20.0": {"linear": _cutlass_kernel, "ct_moe": _CTM_NEW, "reload_config": False},
    # reload_config of 0.26.0 and 0.28.0 as 0.33.0: not checked (no environment for them here).
    "0.26.0": {"linear": _cutlass_kernel, "ct_moe": _CTM_NEW, "reload_config": True},
    "0.28.0": {"linear": _cutlass_kernel, "ct_moe": _CTM_NEW, "reload_config": True},
    "0.33.0": {"linear": _cutlass_kernel, "ct_moe": _CTM_NEW, "reload_config": True},
}
BACKENDS = {"cutlass": "VLLM_CUTLASS", "flashinfer_cutlass": "FLASHINFER_CUTLASS",
            "flashinfer_trtllm": "FLASHINFER_TRTLLM"}


class Adapter:
    engine = "vllm"
    reload_restores_parameters = True  # initialize_layerwise_reload restores each layer as built

    def __init__(self, backend):
        self.version = importlib.metadata.version("vllm")
        self.release = RELEASES[self.version]
        self.backend = backend
        stubs.cuda_is_identity()
        import vllm.distributed.parallel_state as ps
        from vllm.config import DeviceConfig, VllmConfig, set_current_vllm_config
        self._ctx = set_current_vllm_config(VllmConfig(device_config=DeviceConfig(device="cpu")))
        self._ctx.__enter__()
        with socket.socket() as probe:  # a free port: several processes may run at once
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        ps.init_distributed_environment(world_size=1, rank=0, distributed_init_method=f"tcp://127.0.0.1:{port}",
                                        local_rank=0, backend="gloo")
        ps.initialize_model_parallel(1, 1)
        self.release["linear"]([_MO, _CTL])
        stubs.flashinfer_on_cpu()
        from vllm.model_executor.layers.fused_moe.oracle import nvfp4 as oracle
        chosen = oracle.NvFp4MoeBackend[BACKENDS[backend]]
        select = lambda config, weight_key=None, activation_key=None, **k: (  # noqa: E731
            chosen, oracle.backend_to_kernel_cls(chosen)[0])
        for m in (_MO, self.release["ct_moe"]):
            importlib.import_module(m).select_nvfp4_moe_backend = select
        # the trtllm kernel object reads the current device index after conversion
        torch.accelerator.current_device_index = lambda: 0
        # W4A16 (Marlin) sizes its scratch workspace by the GPU's SM count
        # (model_executor/layers/quantization/utils/marlin_utils.py:262@0.20.0): an H100's 132
        mu = importlib.import_module("vllm.model_executor.layers.quantization.utils.marlin_utils")
        if hasattr(mu, "num_compute_units"):
            mu.num_compute_units = lambda device_id=0: 132
        self._built = weakref.WeakKeyDictionary()  # model -> vllm_model.Built (its VllmConfig)

    def build_model(self, conf):
        """vLLM's own model class for the checkpoint's config.json (vllm_model.py), tp = 1, CPU."""
        model, built = vllm_model.build_model(conf)
        self._built[model] = built
        return model

    @staticmethod
    def cpu_cannot(spec):
        """Why a spec cannot run on a CPU here, or None: counted as refused, never as passed."""
        if spec.fmt == "compressed-tensors" and spec.w4a16:
            # the W4A16 (Marlin) path repacks with a native CUDA op
            # (model_executor/layers/quantization/utils/marlin_utils_fp4.py:234@0.20.0, :245@0.33.0)
            return "vLLM's compressed-tensors W4A16 processing calls ops.gptq_marlin_repack (CUDA only)"
        return None

    def _model_config(self, model):
        return self._built[model].model_config

    def _under_config(self, model, applies=True):
        from vllm.config import set_current_vllm_config
        return set_current_vllm_config(self._built[model].vllm_config) if applies else contextlib.nullcontext()

    def load_weights(self, model, weights):
        """The model's own load_weights, as a cold load runs it (its names loaded, for vLLM's class)."""
        with self._under_config(model):
            return model.load_weights(weights)

    def process(self, model):
        from vllm.model_executor.model_loader.utils import process_weights_after_loading
        with self._under_config(model):
            process_weights_after_loading(model, self._model_config(model), torch.device("cpu"))

    def cold_load(self, model, weights):
        # model_loader/base_loader.py load_model: the model's load_weights, then processing
        self.load_weights(model, weights)
        self.process(model)

    def reload(self, model, weights):
        from vllm.model_executor.model_loader.reload import finalize_layerwise_reload, initialize_layerwise_reload
        with self._under_config(model, self.release["reload_config"]):
            initialize_layerwise_reload(model)
            model.load_weights(weights)
            finalize_layerwise_reload(model, self._model_config(model))
