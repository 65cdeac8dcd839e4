"""What the properties hook onto any engine model (an nn.Module the engine built), from outside it.

  after_load       runs a function between the model's own load_weights and the processing that
                   follows it: the instance's load_weights, for one load, is the class's own
                   method followed by the function (the engines' loaders call model.load_weights)
  Reach            which checkpoint tensors the model can no longer take at a reload: the fused
                   parameter the name maps to (model.target) is gone, or processing replaced it by
                   a tensor without the weight_loader it had when built. The engine's own loader
                   decides what then happens (skips it, falls back to default_weight_loader,
                   raises); the properties judge the state, this only says why in their messages
  engine_warnings  the engine's own log warnings during a load ("Parameter ... not found in
                   params_dict", sglang srt/models/llama.py:779@0.5.23)
"""
import contextlib
import logging

from . import model as ckpt


@contextlib.contextmanager
def after_load(model, hook):
    own = type(model).load_weights

    def load_weights(weights, *a, **k):
        out = own(model, weights, *a, **k)
        hook(model)
        return out
    model.load_weights = load_weights
    try:
        yield
    finally:
        del model.load_weights


class Reach:
    def __init__(self, model):
        self.built = {n: hasattr(p, "weight_loader") for n, p in model.named_parameters()}

    def lost(self, model, names):
        """(checkpoint name, why) for each tensor whose parameter processing deleted or replaced."""
        params = dict(model.named_parameters())
        out = []
        for name in names:
            t = ckpt.resolve(ckpt.target(name), self.built)
            if t is None:
                continue  # the model never had it: the same at every load, nothing a reload changed
            if t not in params:
                out.append((name, f"no parameter {t} any more: processing deleted or renamed it"))
            elif self.built[t] and not hasattr(params[t], "weight_loader"):
                out.append((name, f"{t} lost its weight_loader: processing replaced the parameter"))
        return out


class _Said(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        if "not found" in record.getMessage():
            self.lines.append(record.getMessage())


@contextlib.contextmanager
def engine_warnings(engine):
    said, log = _Said(), logging.getLogger(engine)
    log.addHandler(said)
    try:
        yield said.lines
    finally:
        log.removeHandler(said)
