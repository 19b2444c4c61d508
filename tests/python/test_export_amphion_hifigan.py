"""The issue's acceptance case: an Amphion-layout HiFi-GAN checkpoint with weight norm, laid out
the way Amphion's trainer leaves it, exports to ONNX matching PyTorch within 1e-4 in ONNX Runtime.
"""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import torch
from conftest import amphion_generator_state

from amphora_export.vocoders import get_family
from amphora_export.vocoder import VocoderExportOptions, export_vocoder

# Amphion's config/vocoder.json defaults (abridged) and egs/vocoder/gan/hifigan/exp_config.json,
# with the channel width reduced from 256 to 64 to keep the test fast.
VOCODER_JSON = """{
  // Amphion config/vocoder.json (abridged)
  "base_config": "config/base.json",
  "preprocess": {"sample_rate": 24000, "n_mel": 100, "n_fft": 1024, "win_size": 1024,
                 "hop_size": 256, "fmin": 0, "fmax": 12000,},
}"""
EXP_CONFIG = """{
  "base_config": "config/vocoder.json",
  "model_type": "GANVocoder",
  "model": {
    "generator": "hifigan",
    "hifigan": {
      "resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
      "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 5, 7],
      "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]],
    },
  },
}"""


def test_accelerate_experiment_exports_to_onnx_within_1e4(tmp_path):
    amphion = tmp_path / "Amphion"
    (amphion / "config").mkdir(parents=True)
    (amphion / "config" / "base.json").write_text('{"preprocess": {"n_mel": 80}}')
    (amphion / "config" / "vocoder.json").write_text(VOCODER_JSON)
    exp = tmp_path / "ckpts" / "vocoder" / "hifigan_exp"
    exp.mkdir(parents=True)
    (exp / "args.json").write_text(EXP_CONFIG)

    spec = get_family("hifigan")
    merged = {  # what the chain args.json <- vocoder.json <- base.json must resolve to
        "preprocess": {"sample_rate": 24000, "n_mel": 100, "n_fft": 1024, "win_size": 1024,
                       "hop_size": 256, "fmin": 0, "fmax": 12000},
        "model": {"generator": "hifigan", "hifigan": {
            "resblock": "2", "upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8],
            "upsample_initial_channel": 64, "resblock_kernel_sizes": [3, 5, 7],
            "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]]}}}
    state = amphion_generator_state("hifigan", merged, seed=21)
    assert state["ups.0.weight_g"].shape == (64, 1, 1)  # ConvTranspose1d weight norm dim 0 = Cin
    save = exp / "checkpoint" / "epoch-0003_step-0012000_loss-0.412000"
    save.mkdir(parents=True)
    torch.save({f"module.{k}": v for k, v in state.items()}, save / "pytorch_model.bin")

    output = tmp_path / "hifigan_pkg"
    manifest = export_vocoder(VocoderExportOptions(
        output=str(output), checkpoint=str(exp), amphion_root=str(amphion), formats=("onnx",),
        quiet=True))
    assert manifest["family"] == "hifigan"
    assert manifest["hop_length"] == 256 and manifest["n_mels"] == 100
    assert manifest["sample_rate"] == 24000 and manifest["mel"]["fmax"] == 12000
    assert manifest["parity"]["onnx"]["passed"]
    assert manifest["exporter"]["weight_norm_folded"] == sum(k.endswith("weight_g") for k in state)

    generator = spec.build(merged).eval()  # weight norm on, as Amphion runs it
    generator.load_state_dict(state, strict=True)
    session = ort.InferenceSession(str(output / "model.onnx"), providers=["CPUExecutionProvider"])
    for frames in (37, 200):
        mel = torch.randn(1, 100, frames, generator=torch.Generator().manual_seed(frames)) * 2 - 5
        with torch.no_grad():
            want = generator(mel).numpy()
        got = session.run(["audio"], {"mel": mel.numpy()})[0]
        assert got.shape == (1, 1, frames * 256)
        assert float(np.max(np.abs(got - want))) <= 1e-4
    config_written = json.loads((output / "amphora.json").read_text())["source"]
    assert config_written["config"] == str(exp / "args.json")
    assert "step-0012000" in config_written["weights_file"]
