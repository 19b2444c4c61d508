"""Core ML export (ML Program, fp32, flexible time axis) and spec-level verification.

Core ML can only execute on Apple platforms; on Linux we verify what the spec allows: it loads,
it is an ML Program, its inputs/outputs have the expected names and flexible time ranges, and
every op it uses exists in the MIL op set of the deployment target.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .errors import ExportError

DEPLOYMENT_TARGET = "iOS16"  # ML Program with flexible shapes; macOS 13 / iOS 16 and newer
MIN_FRAMES = 8  # reflect/replicate pads in the families need a few frames of input
MAX_FRAMES = 4096
DEFAULT_CHUNK_FRAMES = 128
CANNOT_EXECUTE = "spec only: Core ML cannot execute on Linux"


@contextlib.contextmanager
def _quiet_coremltools():
    """coremltools logs import-time warnings and draws tqdm bars; keep stderr for progress.

    Its errors still surface: they are raised as exceptions, which callers turn into messages."""
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    logging.getLogger("coremltools").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        if previous is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = previous


def _import_coremltools():
    with _quiet_coremltools():
        try:
            import coremltools
        except Exception as e:
            raise ExportError(f"coremltools is not usable: {type(e).__name__}: {e}") from e
    return coremltools


def time_axes(input_names: list[str], dynamic_axes: dict) -> dict[str, list[int]]:
    """The non-batch dynamic axes of each input (batch stays 1 on device)."""
    axes = {}
    for name in input_names:
        spec = dynamic_axes.get(name, {})
        indices = list(spec.keys()) if isinstance(spec, dict) else list(spec)
        axes[name] = [a for a in indices if a != 0]
    return axes


def export_coreml(traced: torch.jit.ScriptModule, example_inputs: tuple, frames: int,
                  input_names: list[str], output_names: list[str], dynamic_axes: dict,
                  path: Path, chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> dict:
    """Converts the traced module; example_inputs must have `frames` frames. Returns shape info."""
    if not MIN_FRAMES <= chunk_frames <= MAX_FRAMES:
        raise ExportError(f"--coreml-chunk-frames {chunk_frames} is outside the model's time "
                          f"range [{MIN_FRAMES}, {MAX_FRAMES}]")
    ct = _import_coremltools()
    flexible = time_axes(input_names, dynamic_axes)
    inputs, ranges = [], {}
    for name, tensor in zip(input_names, example_inputs):
        shape = list(tensor.shape)
        shape[0] = 1
        for axis in flexible[name]:
            # Axes in samples (the NSF noise) scale with frames; keep that ratio in the range.
            per_frame = max(1, tensor.shape[axis] // frames)
            lower, upper = MIN_FRAMES * per_frame, MAX_FRAMES * per_frame
            shape[axis] = ct.RangeDim(lower_bound=lower, upper_bound=upper,
                                      default=chunk_frames * per_frame)
            ranges[f"{name}[{axis}]"] = [lower, upper]
        inputs.append(ct.TensorType(name=name, shape=tuple(shape), dtype=np.float32))
    try:
        with _quiet_coremltools():
            model = ct.convert(traced, inputs=inputs,
                               outputs=[ct.TensorType(name=n) for n in output_names],
                               convert_to="mlprogram",
                               compute_precision=ct.precision.FLOAT32,
                               minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET))
            model.short_description = "amphora vocoder (see amphora.json)"
            model.save(str(path))
    except Exception as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ExportError(f"Core ML conversion failed: {type(e).__name__}: {first_line} "
                          "(leave coreml out of --formats to export the other formats)") from e
    return {"ranges": ranges, "chunk_frames": chunk_frames}


def _operations(block):
    for op in block.operations:
        yield op
        for inner in op.blocks:
            yield from _operations(inner)


def verify_coreml(path: Path, input_names: list[str], output_names: list[str],
                  shape_info: dict) -> dict:
    """Loads the saved package's spec (no execution) and checks it; returns the parity entry."""
    ct = _import_coremltools()
    from coremltools.converters.mil.mil.ops.registry import SSAOpRegistry

    try:
        with _quiet_coremltools():
            spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    except Exception as e:
        raise ExportError(f"the Core ML package {path} does not load: {e}") from e
    problems = []
    if spec.WhichOneof("Type") != "mlProgram":
        problems.append(f"model type is {spec.WhichOneof('Type')}, not mlProgram")
    got_inputs = [i.name for i in spec.description.input]
    got_outputs = [o.name for o in spec.description.output]
    if got_inputs != input_names:
        problems.append(f"inputs are {got_inputs}, expected {input_names}")
    if got_outputs != output_names:
        problems.append(f"outputs are {got_outputs}, expected {output_names}")
    float32 = ct.proto.FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    for entry in spec.description.output:
        if entry.type.multiArrayType.dataType != float32:
            problems.append(f"output {entry.name} is not float32")
    for entry in spec.description.input:
        array = entry.type.multiArrayType
        if array.dataType != float32:
            problems.append(f"input {entry.name} is not float32")
        if not array.shapeRange.sizeRanges and any(
                key.startswith(entry.name + "[") for key in shape_info["ranges"]):
            problems.append(f"input {entry.name} has no flexible time range")
    target = getattr(ct.target, DEPLOYMENT_TARGET)
    op_types = set()
    for function in spec.mlProgram.functions.values():
        for block in function.block_specializations.values():
            op_types.update(op.type for op in _operations(block))
    unknown = sorted(t for t in op_types
                     if t not in SSAOpRegistry.core_ops or not any(
                         version <= target for version in SSAOpRegistry.core_ops[t]))
    if unknown:
        problems.append(f"ops outside the {DEPLOYMENT_TARGET} MIL op set: {', '.join(unknown)}")
    if problems:
        raise ExportError(f"Core ML spec check failed for {path}: " + "; ".join(problems))
    checked = ["spec loads", "mlProgram", "input/output names", "float32 inputs and outputs",
               "flexible time ranges", f"ops in {DEPLOYMENT_TARGET} op set"]
    return {"verified": CANNOT_EXECUTE, "checked": checked,
            "spec_version": spec.specificationVersion, "deployment_target": DEPLOYMENT_TARGET,
            "precision": "float32", "inputs": got_inputs, "outputs": got_outputs,
            "time_ranges": shape_info["ranges"], "chunk_frames": shape_info["chunk_frames"],
            "op_types": sorted(op_types), "coremltools": ct.__version__}
