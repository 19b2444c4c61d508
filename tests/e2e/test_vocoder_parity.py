"""Every exported vocoder family, run by amphora and by ONNX Runtime on the same inputs, agrees
within 1e-4 max-abs on audio (relative 1e-5 on large spectral values)."""
import numpy as np
import pytest
import torch

from amphora_export.vocoders import FAMILIES
from e2e_util import run_amphora, run_onnxruntime


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_matches_onnxruntime(tmp_path, family):
    spec = FAMILIES[family]
    cfg = spec.default_config()
    torch.manual_seed(0)
    generator = spec.build(cfg).eval()
    module = spec.export_module(generator, cfg).eval()
    names = spec.input_names(cfg)
    example = spec.example_inputs(cfg, 24, torch.Generator().manual_seed(0))
    path = tmp_path / f"{family}.onnx"
    with torch.no_grad():
        torch.onnx.export(module, example, str(path), opset_version=17, input_names=names,
                          output_names=spec.output_names(cfg), dynamic_axes=spec.dynamic_axes(cfg))
    for frames in (24, 41):
        inputs = spec.example_inputs(cfg, frames, torch.Generator().manual_seed(frames))
        feed = {n: t.numpy() for n, t in zip(names, inputs)}
        expected = run_onnxruntime(path, feed)
        got = run_amphora(path, feed, tmp_path / str(frames))
        for name, want in expected.items():
            have = got[name]
            assert have.shape == want.shape, name
            tolerance = max(1e-4, 1e-5 * float(np.max(np.abs(want))))
            assert float(np.max(np.abs(have - want))) <= tolerance, name
