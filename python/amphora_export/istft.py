"""The inverse STFT a manifest "head" describes, in numpy, to prove the head is right.

Spectral families (Vocos, APNet) are exported up to the complex spectrum; the runtime applies
this ISTFT. Running it here on the exported spectrum and comparing against the family's own
audio shows that the recorded head parameters reproduce the original model.
"""

from __future__ import annotations

import numpy as np

from .errors import ExportError


def window(kind: str, length: int) -> np.ndarray:
    if kind != "hann":
        raise ExportError(f"head window {kind!r} is not supported (only 'hann')")
    # Periodic Hann, as torch.hann_window(periodic=True).
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def istft(real: np.ndarray, imag: np.ndarray, head: dict) -> np.ndarray:
    """[B, n_fft/2+1, frames] real/imag -> [B, 1, samples] following head's padding rule."""
    n_fft, hop, win_length = head["n_fft"], head["hop_length"], head["win_length"]
    padding = head.get("padding", "same")
    spectrum = real.astype(np.float64) + 1j * imag.astype(np.float64)
    frames = np.fft.irfft(spectrum, n=n_fft, axis=1)  # [B, n_fft, T]
    # A window shorter than n_fft is centred inside the frame, as torch.stft/istft do.
    w = np.zeros(n_fft)
    offset = (n_fft - win_length) // 2
    w[offset:offset + win_length] = window(head.get("window", "hann"), win_length)
    frames = frames * w[None, :, None]
    batch, _, count = frames.shape
    total = (count - 1) * hop + n_fft
    signal = np.zeros((batch, total))
    envelope = np.zeros(total)
    for t in range(count):
        signal[:, t * hop:t * hop + n_fft] += frames[:, :, t]
        envelope[t * hop:t * hop + n_fft] += w * w
    if padding == "same":
        pad = (n_fft - hop) // 2
        start, stop = pad, total - pad
    elif padding == "center":
        start, stop = n_fft // 2, total - n_fft // 2
    else:
        raise ExportError(f"head padding {padding!r} is not supported ('same' or 'center')")
    envelope = envelope[start:stop]
    if np.any(envelope <= 1e-11):
        raise ExportError("head ISTFT window envelope is zero somewhere (NOLA violated)")
    return (signal[:, start:stop] / envelope)[:, None, :].astype(np.float32)
