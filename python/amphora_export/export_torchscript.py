"""TorchScript export: a traced model.ts and a mobile lite-interpreter model.ptl.

Optimisation passes (optimize_for_inference, optimize_for_mobile) rewrite convolutions and may
change numerics; each is kept only when the optimised module still matches the plain trace.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from .errors import ExportError

# An optimised module must agree with the plain trace this closely to be kept.
OPTIMISATION_TOLERANCE = 1e-5


def trace(module: torch.nn.Module, example_inputs: tuple) -> torch.jit.ScriptModule:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.jit.trace(module.eval(), example_inputs, check_trace=False)
    except Exception as e:
        raise ExportError(f"TorchScript tracing failed: {type(e).__name__}: {e}") from e


def _outputs(module, inputs: tuple) -> tuple:
    with torch.no_grad():
        result = module(*inputs)
    return result if isinstance(result, (tuple, list)) else (result,)


def _agrees(candidate, traced, probe_inputs: tuple) -> bool:
    try:
        got, want = _outputs(candidate, probe_inputs), _outputs(traced, probe_inputs)
    except Exception:
        return False
    return len(got) == len(want) and all(
        g.shape == w.shape and float((g - w).abs().max()) <= OPTIMISATION_TOLERANCE
        for g, w in zip(got, want))


def _portable(module) -> bool:
    """False when optimisation baked in oneDNN-only ops, which tie the file to CPU builds."""
    graph = module.graph if hasattr(module, "graph") else module.forward.graph
    return not any("mkldnn" in node.kind() for node in graph.nodes())


def save_torchscript(traced: torch.jit.ScriptModule, path: Path, probe_inputs: tuple) -> dict:
    """Saves model.ts (frozen; optimize_for_inference when it keeps parity); returns notes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frozen = torch.jit.freeze(traced.eval())
        chosen, optimised = frozen, False
        try:
            candidate = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
            if _portable(candidate) and _agrees(candidate, frozen, probe_inputs):
                chosen, optimised = candidate, True
        except Exception:
            pass
    torch.jit.save(chosen, str(path))
    return {"frozen": True, "optimize_for_inference": optimised}


def save_lite(traced: torch.jit.ScriptModule, path: Path, probe_inputs: tuple) -> dict:
    """Saves model.ptl for the mobile lite interpreter (optimize_for_mobile when it agrees)."""
    from torch.utils.mobile_optimizer import optimize_for_mobile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chosen, optimised = traced, False
        try:
            candidate = optimize_for_mobile(traced.eval())
            if _agrees(candidate, traced, probe_inputs):
                chosen, optimised = candidate, True
        except Exception:
            pass
    try:
        chosen._save_for_lite_interpreter(str(path))
    except Exception as e:
        raise ExportError(f"saving the lite-interpreter model {path} failed: {e}") from e
    return {"optimize_for_mobile": optimised}


def load_torchscript(path: Path):
    return torch.jit.load(str(path), map_location="cpu")


def load_lite(path: Path):
    from torch.jit.mobile import _load_for_lite_interpreter

    return _load_for_lite_interpreter(str(path))


def run(module, inputs: tuple) -> list:
    return [t.detach().cpu().numpy() for t in _outputs(module, inputs)]
