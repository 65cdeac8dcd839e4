#!/usr/bin/env python3
"""tools/dump_engine_state.py on a toy model holding what sglang's NVFP4 modules hold after
post-processing: packed FP4 as uint8, FP8 block scales, 0-dim scalars, a Parameter registered
under two names (sglang's weight_scale_interleaved = weight_scale), a second Parameter over the
same storage (a view alias), one over part of another's storage, and a buffer. Needs torch (the
engines' environment); exits 77 (skipped) without it. CI has no torch: this runs where torch is.
"""
import json
import os
import sys
import tempfile

try:
    import torch
    from safetensors import safe_open
except ImportError:
    print("torch or safetensors missing: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from dump_engine_state import dump_model, installed_version  # noqa: E402


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.weight = torch.nn.Parameter(torch.randint(0, 256, (64, 32), dtype=torch.uint8, generator=g), requires_grad=False)
        self.weight_scale = torch.nn.Parameter(torch.rand(64, 4, generator=g).to(torch.float8_e4m3fn), requires_grad=False)
        self.register_parameter("weight_scale_interleaved", self.weight_scale)  # one Parameter, two names
        self.weight_scale_2 = torch.nn.Parameter(torch.tensor([0.5, 0.25, 0.125]), requires_grad=False)
        self.register_buffer("alpha", torch.tensor(0.0625))  # 0-dim


class Experts(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(2)
        self.w13_weight_scale = torch.nn.Parameter(torch.rand(2, 128, 4, generator=g).to(torch.float8_e4m3fn), requires_grad=False)
        # A second Parameter over the same bytes (sglang aliases the swizzled scale this way).
        self.w13_blockscale_swizzled = torch.nn.Parameter(self.w13_weight_scale.data, requires_grad=False)
        self.g1_alphas = torch.nn.Parameter(torch.tensor([1.5, 2.5]), requires_grad=False)
        # Part of g1_alphas' storage: shares it without being the same view.
        self.g1_first = torch.nn.Parameter(self.g1_alphas.data[:1], requires_grad=False)


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = Linear()
        self.experts = Experts()


def main():
    m = Model()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "dump.safetensors")
        counts = dump_model(m, path, engine="sglang", backend="cutlass")
        expect = {"proj.weight": ("U8", [64, 32]), "proj.weight_scale": ("F8_E4M3", [64, 4]),
                  "proj.weight_scale_interleaved": ("F8_E4M3", [64, 4]), "proj.weight_scale_2": ("F32", [3]),
                  "proj.alpha": ("F32", []), "experts.w13_weight_scale": ("F8_E4M3", [2, 128, 4]),
                  "experts.w13_blockscale_swizzled": ("F8_E4M3", [2, 128, 4]), "experts.g1_alphas": ("F32", [2]),
                  "experts.g1_first": ("F32", [1])}
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        meta = header.pop("__metadata__")
        assert set(header) == set(expect), sorted(header)
        for name, (dtype, shape) in expect.items():
            assert header[name]["dtype"] == dtype and header[name]["shape"] == shape, (name, header[name])
        with safe_open(path, framework="pt") as f:
            for name, (dtype, shape) in expect.items():
                mod, attr = name.split(".")
                want = getattr(getattr(m, mod), attr)
                got = f.get_tensor(name)
                assert got.shape == want.shape, name
                assert torch.equal(got.reshape(-1).view(torch.uint8), want.detach().reshape(-1).view(torch.uint8)), name
        assert json.loads(meta["aliases"]) == {"proj.weight_scale_interleaved": "proj.weight_scale",
                                               "experts.w13_blockscale_swizzled": "experts.w13_weight_scale"}, meta["aliases"]
        assert json.loads(meta["shares_storage"]) == {"experts.g1_first": "experts.g1_alphas"}, meta["shares_storage"]
        assert meta["engine"] == "sglang" and meta["backend"] == "cutlass"
        # No sglang installed here: no engine_version unless given.
        assert "engine_version" not in meta or meta["engine_version"] == installed_version("sglang"), meta
        dump_model(m, path, engine="sglang", backend="cutlass", engine_version="0.5.11")
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            assert json.loads(f.read(n))["__metadata__"]["engine_version"] == "0.5.11"
        assert counts == {"tensors": 9, "aliases": 2, "shares_storage": 1}, counts
    print("dump_engine_state: 9 tensors, 2 aliases, 1 shared storage, bytes and metadata as the engine holds them")


if __name__ == "__main__":
    main()
