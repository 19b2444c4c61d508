"""Core ML export shared by vocoders and acoustic models: conversion of a traced module to an
ML Program (fp32, batch 1, flexible ranges on the time or token axes) and spec-level
verification.

Core ML can only execute on Apple platforms; on Linux we verify what the spec allows: it loads,
it is an ML Program, its inputs/outputs have the expected names, dtypes, ranks and flexible
ranges, no flexible axis was baked into a fixed size, and every op it uses exists in the MIL op
set of the deployment target. Whether it predicts the same numbers can only be checked on macOS.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import ExportError

DEPLOYMENT_TARGET = "iOS16"  # ML Program with flexible shapes; macOS 13 / iOS 16 and newer
CANNOT_EXECUTE = "spec only: Core ML cannot execute on Linux"
# coremltools logs the torch op it was converting when a conversion raises; the exception
# itself often names only a MIL op, so the log line is what tells the user where it failed.
_FAILED_OP = re.compile(r"converting '([^']+)' op \(located at: '([^']*)'\)")


@dataclass(frozen=True)
class FlexibleAxis:
    """One axis whose size Core ML leaves open within [lower, upper]; default is the size the
    model describes itself with (what fixed-shape deployments compile for)."""

    lower: int
    upper: int
    default: int


class _LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_coremltools(capture: _LogCapture | None = None):
    """coremltools logs import-time warnings and draws tqdm bars; keep stderr for progress.

    Its errors still surface: they are raised as exceptions, which callers turn into messages."""
    previous = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    logger = logging.getLogger("coremltools")
    logger.setLevel(logging.ERROR)
    if capture is not None:
        logger.addHandler(capture)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        if capture is not None:
            logger.removeHandler(capture)
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


def core_ml_dtype(tensor: torch.Tensor) -> str:
    """Core ML multiarrays hold float32 or int32: an int64 tensor (ids, lengths) is fed as
    int32, and integer arithmetic inside the program is int32 too."""
    return "float32" if tensor.is_floating_point() else "int32"


def _expected_shape(tensor: torch.Tensor, flexible_axes) -> list:
    """Batch is 1 on device; None marks an axis whose size is only known at run time."""
    shape = [int(size) for size in tensor.shape]
    if shape:
        shape[0] = 1
    return [None if axis in flexible_axes else size for axis, size in enumerate(shape)]


def _dynamic(name: str, dynamic_axes: dict) -> list[int]:
    spec = dynamic_axes.get(name, {})
    return [a for a in (spec.keys() if isinstance(spec, dict) else spec) if a != 0]


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def convert(traced: torch.jit.ScriptModule, example_inputs: tuple, example_outputs: tuple,
            input_names: list[str], output_names: list[str], dynamic_axes: dict,
            flexible: dict[str, dict[int, FlexibleAxis]], path: Path, description: str) -> dict:
    """Converts and saves the traced module; returns what verify_coreml checks it against:
    the flexible ranges ("name[axis]" -> [lower, upper]) and each input's and output's dtype
    and shape. Output axes in dynamic_axes (frames, samples) must stay open in the program."""
    ct = _import_coremltools()
    inputs, ranges, dtypes, shapes = [], {}, {}, {}
    for name, tensor in zip(input_names, example_inputs):
        axes = flexible.get(name, {})
        shape = list(tensor.shape)
        shape[0] = 1
        for axis, span in axes.items():
            shape[axis] = ct.RangeDim(lower_bound=span.lower, upper_bound=span.upper,
                                      default=span.default)
            ranges[f"{name}[{axis}]"] = [span.lower, span.upper]
        dtypes[name] = core_ml_dtype(tensor)
        shapes[name] = _expected_shape(tensor, axes)
        inputs.append(ct.TensorType(name=name, shape=tuple(shape),
                                    dtype=np.float32 if dtypes[name] == "float32" else np.int32))
    for name, tensor in zip(output_names, example_outputs):
        dtypes[name] = core_ml_dtype(tensor)
        shapes[name] = _expected_shape(tensor, _dynamic(name, dynamic_axes))
    capture = _LogCapture()
    try:
        with _quiet_coremltools(capture):
            model = ct.convert(traced, inputs=inputs,
                               outputs=[ct.TensorType(name=n) for n in output_names],
                               convert_to="mlprogram",
                               compute_precision=ct.precision.FLOAT32,
                               minimum_deployment_target=getattr(ct.target, DEPLOYMENT_TARGET))
            model.short_description = description
            model.save(str(path))
    except Exception as e:
        where = ""
        for message in capture.messages:
            found = _FAILED_OP.search(message)
            if found:
                where = f" at torch op '{found.group(1)}' ({found.group(2) or 'top level'})"
        raise ExportError(f"Core ML conversion failed{where}: {type(e).__name__}: "
                          f"{_first_line(e)} (leave coreml out of --formats to export the "
                          "other formats)") from e
    return {"ranges": ranges, "dtypes": dtypes, "shapes": shapes}


def _operations(block):
    for op in block.operations:
        yield op
        for inner in op.blocks:
            yield from _operations(inner)


def _program_shapes(ct, spec) -> dict:
    """name -> (dtype, dims) of the main function's inputs and outputs, dims None where the
    program leaves the size open."""
    names = {v: k.lower() for k, v in ct.proto.MIL_pb2.DataType.items()}
    function = spec.mlProgram.functions["main"]
    block = function.block_specializations[function.opset]

    def described(value_type) -> tuple:
        tensor = value_type.tensorType
        dims = [d.constant.size if d.WhichOneof("dimension") == "constant" else None
                for d in tensor.dimensions]
        return names.get(tensor.dataType, "?"), dims

    found = {i.name: described(i.type) for i in function.inputs}
    wanted = set(block.outputs)
    for op in block.operations:
        for value in op.outputs:
            if value.name in wanted:
                found[value.name] = described(value.type)
    return found


def _shape_problems(name: str, want: list, got: list | None) -> list[str]:
    if got is None:
        return [f"{name} is missing from the program"]
    if len(got) != len(want):
        return [f"{name} has rank {len(got)}, expected {len(want)}"]
    problems = []
    for axis, (w, g) in enumerate(zip(want, got)):
        if w is None and g is not None:
            problems.append(f"{name} axis {axis} is fixed at {g}, expected it flexible")
        elif w is not None and g is not None and w != g:
            problems.append(f"{name} axis {axis} is {g}, expected {w}")
    return problems


def verify_coreml(path: Path, input_names: list[str], output_names: list[str],
                  shape_info: dict) -> dict:
    """Loads the saved package's spec (no execution) and checks it against shape_info (what
    convert returned; dtypes default to float32, shapes are checked when given); returns the
    parity entry."""
    ct = _import_coremltools()
    from coremltools.converters.mil.mil.ops.registry import SSAOpRegistry

    try:
        with _quiet_coremltools():
            spec = ct.models.MLModel(str(path), skip_model_load=True).get_spec()
    except Exception as e:
        raise ExportError(f"the Core ML package {path} does not load: {e}") from e
    problems = []
    if spec.WhichOneof("Type") != "mlProgram":
        raise ExportError(f"Core ML spec check failed for {path}: model type is "
                          f"{spec.WhichOneof('Type')}, not mlProgram")
    got_inputs = [i.name for i in spec.description.input]
    got_outputs = [o.name for o in spec.description.output]
    if got_inputs != input_names:
        problems.append(f"inputs are {got_inputs}, expected {input_names}")
    if got_outputs != output_names:
        problems.append(f"outputs are {got_outputs}, expected {output_names}")
    array_types = ct.proto.FeatureTypes_pb2.ArrayFeatureType.ArrayDataType
    want_dtypes = shape_info.get("dtypes", {})
    for entry in list(spec.description.input) + list(spec.description.output):
        want = want_dtypes.get(entry.name, "float32")
        if entry.type.multiArrayType.dataType != array_types.Value(want.upper()):
            got = array_types.Name(entry.type.multiArrayType.dataType).lower()
            problems.append(f"{entry.name} is {got}, expected {want}")
    for entry in spec.description.input:
        sizes = entry.type.multiArrayType.shapeRange.sizeRanges
        for key, (lower, upper) in shape_info["ranges"].items():
            name, axis = key[:-1].split("[")
            if name != entry.name:
                continue
            if not sizes:
                problems.append(f"input {name} has no flexible range")
            elif (sizes[int(axis)].lowerBound, sizes[int(axis)].upperBound) != (lower, upper):
                problems.append(f"input {key} ranges over [{sizes[int(axis)].lowerBound}, "
                                f"{sizes[int(axis)].upperBound}], expected [{lower}, {upper}]")
    program = _program_shapes(ct, spec)
    for name, want in shape_info.get("shapes", {}).items():
        problems += _shape_problems(name, want, program.get(name, (None, None))[1])
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
    checked = ["spec loads", "mlProgram", "input/output names", "input/output dtypes",
               "flexible ranges", f"ops in {DEPLOYMENT_TARGET} op set"]
    if "shapes" in shape_info:
        checked.insert(4, "input/output ranks, fixed sizes and open axes")
    return {"verified": CANNOT_EXECUTE, "checked": checked,
            "spec_version": spec.specificationVersion, "deployment_target": DEPLOYMENT_TARGET,
            "precision": "float32", "inputs": got_inputs, "outputs": got_outputs,
            "dtypes": {name: program[name][0] for name in got_inputs + got_outputs
                       if name in program},
            "time_ranges": shape_info["ranges"], "op_types": sorted(op_types),
            "coremltools": ct.__version__}
