"""ONNX export (opset 14-17, dynamic time axis), validation with onnx.checker, and running the
result in ONNX Runtime for parity."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from .errors import ExportError

SUPPORTED_OPSETS = (14, 15, 16, 17)
METADATA_KEY = "amphora"


def export_onnx(module: torch.nn.Module, example_inputs: tuple, path: Path,
                input_names: list[str], output_names: list[str], dynamic_axes: dict,
                opset: int) -> None:
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(f"ONNX opset {opset} is not supported; choose one of "
                          f"{', '.join(map(str, SUPPORTED_OPSETS))}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # Tracer warnings about Python-side shape arithmetic are expected; parity at two
            # lengths is what proves the time axis stayed dynamic.
            warnings.simplefilter("ignore")
            torch.onnx.export(module, example_inputs, str(path), opset_version=opset,
                              input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, do_constant_folding=True)
    except Exception as e:
        raise ExportError(f"ONNX export at opset {opset} failed: {type(e).__name__}: "
                          f"{_first_line(e)}") from e
    check_onnx(path)


def check_onnx(path: Path) -> None:
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as e:
        raise ExportError(f"onnx.checker rejected {path}: {_first_line(e)}") from e


def set_metadata(path: Path, manifest_json: str) -> None:
    """Stores the manifest in metadata_props so a bare .onnx file describes itself."""
    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, manifest_json
    model.producer_name = "amphora-export"
    onnx.save(model, str(path))


class OnnxRunner:
    """Runs an exported model in ONNX Runtime (the reference runtime for parity)."""

    def __init__(self, path: Path):
        import onnxruntime as ort

        self.version = f"onnxruntime {ort.__version__}"
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options,
                                            providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, inputs: tuple) -> list[np.ndarray]:
        feeds = {name: t.detach().cpu().numpy() for name, t in zip(self.input_names, inputs)}
        return self.session.run(None, feeds)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
