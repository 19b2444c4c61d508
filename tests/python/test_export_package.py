"""Package writing: parity failures stop the export and leave nothing behind, --allow-mismatch
records them, progress goes to stderr, and the manifest text is stored in the ONNX file."""

from __future__ import annotations

import io
import json

import pytest

from amphora_export.errors import ExportError
from amphora_export.package import PackageWriter, read_manifest
from amphora_export.progress import Progress
from amphora_export.vocoder import VocoderExportOptions, export_vocoder


def _options(tmp_path, **changes):
    values = dict(output=str(tmp_path / "pkg"), family="hifigan", random_init=True,
                  formats=("onnx",), quiet=True)
    values.update(changes)
    return VocoderExportOptions(**values)


def test_parity_failure_aborts_and_leaves_nothing(tmp_path):
    # A zero tolerance cannot be met by ONNX Runtime's float32 kernels (max-abs ~1e-7).
    with pytest.raises(ExportError, match=r"ONNX output differs from PyTorch beyond 0.*"
                                          r"--allow-mismatch"):
        export_vocoder(_options(tmp_path, tolerance=0.0))
    assert list(tmp_path.iterdir()) == []


def test_allow_mismatch_writes_and_records_the_failure(tmp_path):
    stream = io.StringIO()
    options = _options(tmp_path, tolerance=0.0, allow_mismatch=True, quiet=False)
    manifest = export_vocoder(options, Progress(4, stream=stream))
    entry = manifest["parity"]["onnx"]
    assert entry["passed"] is False and entry["max_abs"] > 0.0 and entry["tolerance"] == 0.0
    log = stream.getvalue()
    assert "[3/4] exporting ONNX (opset 17)" in log
    assert "warning: ONNX parity failed" in log
    assert read_manifest(tmp_path / "pkg")[0] == manifest


def test_existing_non_package_file_and_force(tmp_path):
    (tmp_path / "pkg").write_text("x")
    with pytest.raises(ExportError, match="exists and is not a directory"):
        PackageWriter(tmp_path / "pkg", force=True)
    (tmp_path / "pkg").unlink()
    (tmp_path / "pkg").mkdir()  # an existing empty directory is fine
    writer = PackageWriter(tmp_path / "pkg", force=False)
    (writer.path("model.onnx")).write_bytes(b"onnx")
    assert not (tmp_path / "pkg" / "model.onnx").exists()  # nothing visible before commit
    writer.commit(json.dumps({"schema_version": 1}))
    assert (tmp_path / "pkg" / "model.onnx").read_bytes() == b"onnx"
    with pytest.raises(ExportError, match="already exists"):
        PackageWriter(tmp_path / "pkg", force=False)
    replacement = PackageWriter(tmp_path / "pkg", force=True)
    replacement.commit(json.dumps({"schema_version": 1, "family": "x"}))
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == ["amphora.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]


def test_unknown_manifest_version_is_refused(tmp_path):
    (tmp_path / "amphora.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ExportError, match="schema_version 99"):
        read_manifest(tmp_path)
