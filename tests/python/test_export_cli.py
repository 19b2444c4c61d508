"""The amphora-export command as users run it: exit codes, one-line errors, no half packages."""

from __future__ import annotations

import json

import torch
from conftest import amphion_generator_state, default_config, run_cli, write_json

VOCODER_FLAGS = ("--family", "--checkpoint", "--config", "--output", "--formats", "--opset",
                 "--random-init", "--seed", "--allow-mismatch", "--amphion-root", "--force",
                 "--set", "--coreml-chunk-frames", "--quiet")


def _single_error_line(result, *fragments):
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("amphora-export: error: ")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def _no_package_left(parent, name="pkg"):
    assert not (parent / name).exists()
    assert not list(parent.glob(f".{name}.*")), "staging directory left behind"


def test_help_explains_every_flag():
    result = run_cli("vocoder", "--help")
    assert result.returncode == 0
    for flag in VOCODER_FLAGS:
        assert flag in result.stdout, flag
    top = run_cli("--help")
    assert top.returncode == 0 and "vocoder" in top.stdout and "inspect" in top.stdout


def test_usage_errors_exit_2():
    assert run_cli().returncode == 2
    result = run_cli("vocoder", "--family", "hifigan", "--random-init")  # no --output
    assert result.returncode == 2 and "--output" in result.stderr
    assert run_cli("vocoder", "--output", "x", "--formats", "onnx,tflite").returncode == 2
    assert run_cli("vocoder", "--output", "x", "--opset", "12").returncode == 2


def test_missing_checkpoint(tmp_path):
    result = run_cli("vocoder", "--family", "hifigan", "--checkpoint", str(tmp_path / "no.pt"),
                     "--output", str(tmp_path / "pkg"))
    _single_error_line(result, "checkpoint not found", "no.pt")
    _no_package_left(tmp_path)


def test_unknown_family(tmp_path):
    result = run_cli("vocoder", "--family", "wavernn", "--random-init",
                     "--output", str(tmp_path / "pkg"))
    _single_error_line(result, "unknown family 'wavernn'", "hifigan")
    _no_package_left(tmp_path)


def test_key_mismatch_and_nan_weights(tmp_path):
    config = default_config("hifigan")
    write_json(tmp_path / "args.json", config)
    state = amphion_generator_state("hifigan", config)
    state.pop("conv_post.bias")
    torch.save({"generator_state_dict": state}, tmp_path / "mismatch.pt")
    result = run_cli("vocoder", "--checkpoint", str(tmp_path / "mismatch.pt"),
                     "--output", str(tmp_path / "pkg"))
    _single_error_line(result, "missing key(s): conv_post.bias")
    _no_package_left(tmp_path)

    state = amphion_generator_state("hifigan", config)
    state["conv_pre.weight_v"][0, 0, 0] = float("nan")
    torch.save({"generator_state_dict": state}, tmp_path / "nan.pt")
    result = run_cli("vocoder", "--checkpoint", str(tmp_path / "nan.pt"),
                     "--output", str(tmp_path / "pkg"))
    _single_error_line(result, "NaN/Inf weights", "conv_pre.weight_v")
    _no_package_left(tmp_path)


def test_unwritable_output(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    result = run_cli("vocoder", "--family", "hifigan", "--random-init",
                     "--output", str(blocker / "pkg"))
    _single_error_line(result, str(blocker))


def test_export_then_inspect_and_refuse_overwrite(hifigan_release, tmp_path):
    output = tmp_path / "pkg"
    result = run_cli("vocoder", "--family", "hifigan", "--checkpoint", str(hifigan_release),
                     "--output", str(output), "--formats", "onnx,torchscript")
    assert result.returncode == 0, result.stderr
    assert "[1/5] reading config and checkpoint" in result.stderr
    assert "[3/5] exporting ONNX" in result.stderr
    manifest = json.loads((output / "amphora.json").read_text())
    assert manifest["parity"]["onnx"]["passed"]
    assert manifest["source"]["checkpoint"] == str(hifigan_release)

    shown = run_cli("inspect", str(output))
    assert shown.returncode == 0, shown.stderr
    assert "family:      hifigan" in shown.stdout
    assert "onnx" in shown.stdout and "-> passed" in shown.stdout
    raw = run_cli("inspect", str(output), "--json")
    assert json.loads(raw.stdout) == manifest
    bare = run_cli("inspect", str(output / "model.onnx"), "--json")
    assert json.loads(bare.stdout) == manifest

    # An existing package is kept unless --force is given.
    before = (output / "amphora.json").read_text()
    again = run_cli("vocoder", "--family", "hifigan", "--random-init", "--output", str(output),
                    "--formats", "onnx")
    _single_error_line(again, "already exists", "--force")
    assert (output / "amphora.json").read_text() == before
    forced = run_cli("vocoder", "--family", "hifigan", "--random-init", "--output", str(output),
                     "--formats", "onnx", "--force", "--quiet")
    assert forced.returncode == 0, forced.stderr
    assert forced.stderr == ""
    assert sorted(p.name for p in output.iterdir()) == ["amphora.json", "model.onnx"]
    assert not list(tmp_path.glob(".pkg.*"))


def test_family_disagreeing_with_config(hifigan_release, tmp_path):
    result = run_cli("vocoder", "--family", "melgan", "--checkpoint", str(hifigan_release),
                     "--output", str(tmp_path / "pkg"))
    _single_error_line(result, "--family melgan disagrees", "'hifigan'")
    _no_package_left(tmp_path)


def test_inspect_errors(tmp_path):
    _single_error_line(run_cli("inspect", str(tmp_path)), "amphora.json is missing")
    _single_error_line(run_cli("inspect", str(tmp_path / "nothing")), "package not found")


def test_random_init_excludes_checkpoint(hifigan_release, tmp_path):
    result = run_cli("vocoder", "--random-init", "--checkpoint", str(hifigan_release),
                     "--output", str(tmp_path / "pkg"))
    _single_error_line(result, "exclude each other")
