#!/usr/bin/env python3
"""Dump an inference engine's post-processed NVFP4 weights to safetensors, for `nvfp4 diff`.

Run it inside the engine's process after loading and `process_weights_after_loading` (sglang or
vLLM), on the model object the engine built:

    import sys; sys.path.insert(0, "/path/to/nvfp4-verify/tools")
    from dump_engine_state import dump_model
    dump_model(model, "/tmp/engine.safetensors", engine="sglang", backend="cutlass")

What it writes, as the engine holds it (no conversion): every name of
`named_parameters(remove_duplicate=False)` and `named_buffers(remove_duplicate=False)`, with
padded shapes kept, FP8 as F8_E4M3, packed FP4 as U8 and 0-dim scalars as 0-dim. Tensors move to
the CPU one at a time. safetensors refuses two names that share storage, so a name whose tensor
shares storage with an earlier one (an alias the engine made, e.g. sglang's
`weight_scale_interleaved` = `weight_scale`) is written as a copy and listed in the metadata:
`aliases` maps it to the first name over the same bytes (same storage, offset, shape, strides and
dtype), `shares_storage` to the first name over any part of the same storage. `engine` and
`backend` go into the metadata as given, and `engine_version`: the one given, else the installed
engine package's version (importlib.metadata), which `nvfp4 diff` reads to pick that release's
conventions (or to refuse a backend that release refuses).

Needs torch and safetensors (the engine's own environment has both).
"""
import json

import torch
from safetensors.torch import save_file


def engine_tensors(model):
    """(name, tensor) for every parameter and buffer name, duplicates kept, in module order."""
    seen = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        seen.add(name)
        yield name, p
    for name, b in model.named_buffers(remove_duplicate=False):
        if name not in seen:
            yield name, b


def installed_version(engine):
    """The installed engine package's version ("" when it is not installed or not named)."""
    if not engine:
        return ""
    import importlib.metadata
    try:
        return importlib.metadata.version(engine)
    except importlib.metadata.PackageNotFoundError:
        return ""


def dump_model(model, path, engine="", backend="", metadata=None, engine_version=None):
    tensors, aliases, shares = {}, {}, {}
    exact, storages = {}, {}  # view key -> first name; storage pointer -> first name
    for name, t in engine_tensors(model):
        t = t.detach()
        storage = t.untyped_storage().data_ptr() if t.numel() else None
        view = (storage, t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
        if storage is not None and view in exact:
            aliases[name] = exact[view]
        elif storage is not None and storage in storages:
            shares[name] = storages[storage]
        if storage is not None:
            exact.setdefault(view, name)
            storages.setdefault(storage, name)
        # A copy per name: safetensors refuses shared storage, and a CPU copy leaves the engine's
        # device memory alone. contiguous() keeps the logical shape; strides are not kept.
        tensors[name] = t.to("cpu", copy=True).contiguous()
    version = installed_version(engine) if engine_version is None else engine_version
    meta = {"engine": engine, "backend": backend, "aliases": json.dumps(aliases, sort_keys=True),
            "shares_storage": json.dumps(shares, sort_keys=True), "torch": torch.__version__}
    if version:
        meta["engine_version"] = version
    meta.update(metadata or {})
    save_file(tensors, path, metadata=meta)
    return {"tensors": len(tensors), "aliases": len(aliases), "shares_storage": len(shares)}


if __name__ == "__main__":
    raise SystemExit(__doc__)
