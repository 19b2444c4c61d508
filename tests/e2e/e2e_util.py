"""Shared helpers for end-to-end tests: export in Python, run in C++ (`amphora run`), compare
with ONNX Runtime on the same inputs."""
import os
import pathlib
import subprocess
import wave

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXPORT = [str(ROOT / "scripts" / "bin" / "amphora-export")]


def amphora_bin() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("AMPHORA_BIN", ROOT / "build" / "amphora"))
    if not path.exists():
        pytest.fail(f"amphora binary not found at {path}: build it first (scripts/setup.sh)")
    return path


def export_package(kind: str, output: pathlib.Path, *args: str,
                   formats: str = "onnx") -> pathlib.Path:
    """`amphora-export KIND ARGS --formats FORMATS --output OUTPUT --quiet`; returns OUTPUT."""
    subprocess.run(EXPORT + [kind, *args, "--formats", formats, "--output", str(output),
                             "--quiet"], check=True, timeout=600)
    return output


def run_amphora(model: pathlib.Path, inputs: dict, workdir: pathlib.Path, *extra: str) -> dict:
    """Runs `amphora run` on named numpy inputs; returns {output name: array}."""
    workdir.mkdir(parents=True, exist_ok=True)
    args = [str(amphora_bin()), "run", str(model)]
    for name, value in inputs.items():
        path = workdir / f"in_{name}.npy"
        np.save(path, value)
        args += ["--input", f"{name}={path}"]
    out_dir = workdir / "out"
    args += ["--output-dir", str(out_dir), *extra]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"amphora run failed:\n{proc.stdout}\n{proc.stderr}"
    return {p.stem: np.load(p) for p in out_dir.glob("*.npy")}


def run_onnxruntime(model: pathlib.Path, inputs: dict) -> dict:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs)))


def write_pcm16(path: pathlib.Path, samples: np.ndarray, rate: int) -> np.ndarray:
    """Writes mono 16-bit PCM; returns the samples exactly as libsndfile will read them."""
    ints = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(ints.tobytes())
    return ints.astype(np.float32) / 32768.0


def read_pcm16(path: pathlib.Path) -> tuple[np.ndarray, int]:
    """A 16-bit wav's samples (as floats, /32768) and its rate."""
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), np.int16) / 32768.0, w.getframerate()
