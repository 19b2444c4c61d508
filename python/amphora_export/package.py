"""The model package on disk: manifest assembly and an all-or-nothing directory write.

Everything is written into a hidden sibling directory and renamed into place at the very end,
so an export that fails (or is interrupted) never leaves a directory that looks like a package.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .errors import ExportError

MANIFEST_NAME = "amphora.json"
SCHEMA_VERSION = 1
FORMATS = ("onnx", "torchscript", "coreml")  # what --formats accepts
# Core ML for acoustic models only on request: FastSpeech2 converts, the VITS families refuse it.
ACOUSTIC_DEFAULT_FORMATS = ("onnx", "torchscript")
FORMAT_FILES = {"onnx": "model.onnx", "torchscript": "model.ts", "torchscript_lite": "model.ptl",
                "coreml": "model.mlpackage"}


def tensor_dims(name: str, shape, dynamic_axes: dict) -> list:
    """Dims for the manifest: symbolic names on dynamic axes, sizes elsewhere."""
    spec = dynamic_axes.get(name, {})
    names = spec if isinstance(spec, dict) else {axis: f"{name}_{axis}" for axis in spec}
    return [names[axis] if axis in names else int(size) for axis, size in enumerate(shape)]


def io_entries(names: list[str], tensors, dynamic_axes: dict) -> list[dict]:
    return [{"name": name, "dtype": str(t.dtype).replace("torch.", ""),
             "dims": tensor_dims(name, t.shape, dynamic_axes)} for name, t in zip(names, tensors)]


def manifest_json(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, allow_nan=False) + "\n"


class PackageWriter:
    """Owns the staging directory of one export; commit() moves it to the final path."""

    def __init__(self, output: str | os.PathLike, force: bool):
        self.final = Path(output)
        self.force = force
        self._check_destination()
        parent = self.final.parent if str(self.final.parent) else Path(".")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ExportError(f"cannot create output directory {parent}: "
                              f"{e.strerror or e}") from None
        self.staging = parent / f".{self.final.name}.partial-{os.getpid()}"
        try:
            if self.staging.exists():
                shutil.rmtree(self.staging)
            self.staging.mkdir()
        except OSError as e:
            raise ExportError(f"output {self.final} is not writable: "
                              f"{e.strerror or e} ({parent})") from None

    def _check_destination(self) -> None:
        if self.final.exists() and not self.final.is_dir():
            raise ExportError(f"output {self.final} exists and is not a directory")
        if self.final.is_dir() and any(self.final.iterdir()) and not self.force:
            raise ExportError(f"output {self.final} already exists and is not empty; "
                              "pass --force to replace it")

    def path(self, name: str) -> Path:
        return self.staging / name

    def commit(self, manifest_text: str) -> Path:
        # The manifest is written last: a staging dir without it is never a complete package.
        (self.staging / MANIFEST_NAME).write_text(manifest_text, encoding="utf-8")
        self._check_destination()  # someone may have created it while we were exporting
        backup = None
        if self.final.exists():
            backup = self.final.parent / f".{self.final.name}.replaced-{os.getpid()}"
            os.rename(self.final, backup)
        try:
            os.rename(self.staging, self.final)
        except OSError as e:
            if backup is not None:
                os.rename(backup, self.final)
            raise ExportError(f"cannot move the package into {self.final}: "
                              f"{e.strerror or e}") from None
        if backup is not None:
            shutil.rmtree(backup, ignore_errors=True)
        return self.final

    def abandon(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _onnx_metadata(path: Path) -> str | None:
    import onnx  # not torch: inspect stays quick

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:
        raise ExportError(f"cannot read ONNX file {path}: {e}") from None
    for prop in model.metadata_props:
        if prop.key == "amphora":
            return prop.value
    return None


def read_manifest(path: str | os.PathLike) -> tuple[dict, Path]:
    """Reads a package directory's amphora.json, or the metadata of a bare .onnx file."""
    path = Path(path)
    if path.is_dir():
        manifest_path = path / MANIFEST_NAME
        if not manifest_path.is_file():
            raise ExportError(f"{path} is not a model package: {MANIFEST_NAME} is missing")
        text = manifest_path.read_text(encoding="utf-8")
    elif path.is_file() and path.suffix == ".onnx":
        text = _onnx_metadata(path)
        if text is None:
            raise ExportError(f"{path} has no amphora metadata (metadata_props['amphora'])")
    elif not path.exists():
        raise ExportError(f"package not found: {path}")
    else:
        raise ExportError(f"{path} is neither a package directory nor an .onnx file")
    try:
        manifest = json.loads(text)
    except ValueError as e:
        raise ExportError(f"the manifest of {path} is not valid JSON: {e}") from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise ExportError(f"{path}: unsupported manifest schema_version "
                          f"{manifest.get('schema_version')!r} (expected {SCHEMA_VERSION})")
    return manifest, path
