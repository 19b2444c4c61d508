"""The bench harness (bench/harness.py) end to end on a tiny model: it exports the package, runs
amphora and ONNX Runtime interleaved, and writes a JSON record and a markdown table with GFLOP/s
and % of the measured FMA peak."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def amphora_binary() -> Path:
    path = Path(os.environ.get("AMPHORA_BIN", ROOT / "build" / "amphora"))
    if not path.exists():
        pytest.skip(f"amphora binary not built at {path}")
    return path


def test_quick_run_on_a_tiny_model_writes_json_and_markdown(tmp_path):
    binary = amphora_binary()
    out = tmp_path / "results"
    cmd = [sys.executable, str(ROOT / "bench" / "harness.py"), "--quick", "--models",
           "tiny_hifigan", "--frames", "24", "--threads", "1", "--runtimes",
           "amphora,onnxruntime", "--amphora", str(binary), "--workdir", str(tmp_path / "pkgs"),
           "--out", str(out), "--no-chart"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]

    [record_path] = out.glob("*.json")
    record = json.loads(record_path.read_text())
    machine = record["machine"]
    assert machine["cores"] >= 1
    assert float(machine["fma_peak_gflops"]["1"]) > 1.0  # a real measurement, GFLOP/s
    assert machine["versions"]["onnxruntime"]
    rows = {row["runtime"]: row for row in record["rows"]}
    assert set(rows) == {"amphora", "onnxruntime"}
    for row in rows.values():
        assert (row["model"], row["frames"], row["threads"]) == ("tiny_hifigan", 24, 1)
        assert 0 < row["best_ms"] <= row["median_ms"]
        assert row["peak_rss_mb"] > 0 and row["load_ms"] > 0 and row["first_run_ms"] > 0
        assert row["gflop"] > 0 and row["gflops"] > 0  # from amphora's profile of the model
        assert row["p90_ms"] >= row["best_ms"]
        onnx_mb = (tmp_path / "pkgs" / "tiny_hifigan" / "model.onnx").stat().st_size / 1e6
        assert row["model_mb"] == pytest.approx(onnx_mb)
    # Both runtimes saw the same model: the work is counted once, per model and length.
    assert rows["amphora"]["gflop"] == rows["onnxruntime"]["gflop"]

    [table_path] = out.glob("*.md")
    table = table_path.read_text()
    assert "measured FMA peak" in table and "| model | frames | threads | runtime |" in table
    lines = [line for line in table.splitlines() if line.startswith("| tiny_hifigan")]
    assert len(lines) == 2
    assert any("| onnxruntime |" in line and "1.00x" in line for line in lines)
    # % of peak is filled in: GFLOP/s over the measured peak at that thread count.
    cells = lines[0].split("|")
    assert float(cells[8]) > 0


def test_quantized_run_puts_int8_beside_both_recipes(tmp_path):
    """--quantized: amphora and ONNX Runtime on the float32 file, amphora's int8 QDQ file and
    ONNX Runtime's own quantize_dynamic file, in one table with the int8 ratios and file sizes."""
    binary = amphora_binary()
    out = tmp_path / "results"
    cmd = [sys.executable, str(ROOT / "bench" / "harness.py"), "--quantized", "--models",
           "tiny_hifigan", "--frames", "24", "--threads", "1", "--rounds", "1", "--runs", "1",
           "--amphora", str(binary), "--workdir", str(tmp_path / "pkgs"), "--out", str(out),
           "--no-chart"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [record_path] = out.glob("*.json")
    rows = {row["runtime"]: row for row in json.loads(record_path.read_text())["rows"]}
    assert set(rows) == {"amphora", "amphora-int8", "onnxruntime", "ort-dynamic-int8",
                         "ort-qdq-int8"}
    pkgs = tmp_path / "pkgs"
    int8 = json.loads((pkgs / "tiny_hifigan-int8" / "amphora.json").read_text())
    assert int8["quantization"]["weights"] == "int8"
    dynamic = {n.op_type for n in __import__("onnx").load(
        str(pkgs / "tiny_hifigan-ort-dynamic" / "model.onnx")).graph.node}
    assert "ConvInteger" in dynamic or "DynamicQuantizeLinear" in dynamic
    # (a tiny model: node names and the manifest weigh as much as its weights)
    assert rows["amphora-int8"]["model_mb"] < 0.8 * rows["amphora"]["model_mb"]
    assert rows["ort-qdq-int8"]["model_mb"] == rows["amphora-int8"]["model_mb"]
    [table] = [p.read_text() for p in out.glob("*.md")]
    [line] = [l for l in table.splitlines() if l.startswith("| tiny_hifigan | 24 | 1 | ") and
              l.count("|") > 12]
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert all(float(c) > 0 for c in cells[3:8])  # every runtime's median
    assert all(c.endswith("x") for c in cells[8:11])  # the three ratios


def test_unknown_model_is_refused_with_the_known_names(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "harness.py"), "--models",
                           "wavenet", "--amphora", str(amphora_binary()), "--out",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "unknown model 'wavenet'" in proc.stderr and "hifigan_v1" in proc.stderr


def test_render_writes_the_per_format_table_for_the_seed_case(tmp_path):
    """--render of a record holding HiFi-GAN V1 at 512 frames adds the per-format table
    (format comparison): every runtime with its format, p90 and file size, and the Core ML line."""
    def row(runtime, median, size):
        return {"model": "hifigan_v1", "frames": 512, "threads": 2, "runtime": runtime,
                "median_ms": median, "p90_ms": median * 1.1, "best_ms": median * 0.9,
                "first_run_ms": median, "load_ms": 50.0, "peak_rss_mb": 300.0,
                "model_mb": size, "gflop": None}
    record = {"command": "bench/harness.py", "rounds": 1, "runs": 1,
              "machine": {"cpu": "test cpu", "cores": 2, "avx2": True, "avx512f": False,
                          "fma_peak_gflops": {"2": 79.0}, "load_average_at_start": [0.0],
                          "versions": {"onnxruntime": "x"}},
              "rows": [row("amphora", 1000.0, 55.6), row("onnxruntime", 1500.0, 55.6),
                       row("torch", 2000.0, None), row("torchscript", 1800.0, 55.7)]}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(record))
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "harness.py"), "--render",
                           str(path), "--no-chart"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = path.with_suffix(".md").read_text()
    assert "Per format: hifigan_v1, 80x512 mel" in table
    assert "| ONNX, amphora native engine | 2 | 1000 | 1100 | 300 | 55.6 |" in table
    assert "| TorchScript, LibTorch | 2 | 1800 | 1980 | 300 | 55.7 |" in table
    assert "| PyTorch eager (no export) | 2 | 2000 | 2200 | 300 | - |" in table
    assert "Core ML" in table and "not measurable on Linux" in table
