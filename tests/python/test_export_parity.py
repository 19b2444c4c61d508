"""Parity arithmetic and the head ISTFT the runtime will apply."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from amphora_export.errors import ExportError
from amphora_export.istft import istft
from amphora_export.parity import ParityReport, compare


def test_compare_max_abs_and_snr():
    reference = np.array([1.0, -1.0, 1.0, -1.0], dtype=np.float32)
    result = compare(reference, reference + np.float32(0.01))
    assert result["max_abs"] == pytest.approx(0.01, rel=1e-5)
    assert result["snr_db"] == pytest.approx(40.0, abs=1e-3)  # 10*log10(1 / 1e-4)
    assert compare(reference, reference) == {"max_abs": 0.0, "snr_db": None}


def test_compare_flags_shape_mismatch_and_non_finite():
    assert compare(np.zeros((1, 1, 4)), np.zeros((1, 1, 5)))["shape_mismatch"] == [[1, 1, 4],
                                                                                   [1, 1, 5]]
    bad = compare(np.zeros(3), np.array([0.0, np.nan, 0.0]))
    assert bad["non_finite"] and math.isinf(bad["max_abs"])


def test_report_passes_only_within_tolerance_and_serialises():
    report = ParityReport("runtime x", [37, 200], 1e-4)
    report.add(37, compare(np.ones(8), np.ones(8) + 5e-5))
    assert report.passed
    report.add(200, compare(np.ones(8), np.ones(9)))  # a wrong length must fail, not crash
    assert not report.passed
    summary = report.summary()
    json.dumps(summary, allow_nan=False)
    assert summary["passed"] is False and summary["max_abs"] is None
    assert summary["shape_mismatch"] == [[8], [9]]
    assert "FAILED" in report.describe()


def _spectrum(n_fft, hop, frames, center, seed=0):
    signal = torch.randn(1, hop * frames, generator=torch.Generator().manual_seed(seed))
    window = torch.hann_window(n_fft)
    spec = torch.stft(signal, n_fft, hop, n_fft, window, center=center, return_complex=True)
    return signal, spec, window


def test_center_head_inverts_torch_stft():
    signal, spec, window = _spectrum(64, 16, 40, center=True)
    head = {"n_fft": 64, "hop_length": 16, "win_length": 64, "window": "hann",
            "padding": "center"}
    audio = istft(spec.real.numpy(), spec.imag.numpy(), head)
    expected = torch.istft(spec, 64, 16, 64, window, center=True).numpy()
    assert audio.shape == (1, 1, expected.shape[-1])
    assert np.max(np.abs(audio[:, 0] - expected)) < 1e-5
    assert np.max(np.abs(audio[:, 0] - signal.numpy()[:, :expected.shape[-1]])) < 1e-5


def test_same_head_matches_the_family_istft():
    from amphora_export.vocoders.common import istft_same

    generator = torch.Generator().manual_seed(1)
    real, imag = torch.randn(2, 33, 30, generator=generator), torch.randn(2, 33, 30,
                                                                          generator=generator)
    head = {"n_fft": 64, "hop_length": 16, "win_length": 64, "window": "hann",
            "padding": "same"}
    audio = istft(real.numpy(), imag.numpy(), head)
    expected = istft_same(real, imag, 64, 16, torch.hann_window(64)).numpy()
    assert audio.shape == (2, 1, 30 * 16)
    assert np.max(np.abs(audio[:, 0] - expected)) < 1e-5


def test_unknown_head_settings_are_errors():
    zeros = np.zeros((1, 33, 4), dtype=np.float32)
    with pytest.raises(ExportError, match="padding 'valid'"):
        istft(zeros, zeros, {"n_fft": 64, "hop_length": 16, "win_length": 64, "padding": "valid"})
    with pytest.raises(ExportError, match="window 'hamming'"):
        istft(zeros, zeros, {"n_fft": 64, "hop_length": 16, "win_length": 64, "window": "hamming"})
