"""Numerical parity between the PyTorch reference and an exported model.

The reference is the generator exactly as loaded from the checkpoint (weight norm still on), so a
mistake in folding, tracing or conversion shows up as a difference here.
"""

from __future__ import annotations

import math

import numpy as np

DEFAULT_LENGTHS = (37, 200)  # frames: a short odd length and a long one
DEFAULT_TOLERANCE = 1e-4  # max-abs, fp32


def compare(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """max-abs error and SNR (dB) of candidate against reference; shapes must agree."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        return {"max_abs": math.inf, "snr_db": None,
                "shape_mismatch": [list(reference.shape), list(candidate.shape)]}
    error = candidate - reference
    if not np.all(np.isfinite(candidate)):
        return {"max_abs": math.inf, "snr_db": None, "non_finite": True}
    max_abs = float(np.max(np.abs(error))) if error.size else 0.0
    noise = float(np.sum(error * error))
    signal = float(np.sum(reference * reference))
    # SNR is null when the outputs are bit-identical (infinite SNR has no JSON spelling).
    snr_db = None if noise == 0.0 else 10.0 * math.log10(max(signal, 1e-30) / noise)
    return {"max_abs": max_abs, "snr_db": snr_db}


def worst(results: list[dict]) -> dict:
    """Combines per-length/per-output comparisons into the worst case."""
    max_abs = max(r["max_abs"] for r in results)
    snrs = [r["snr_db"] for r in results if r["snr_db"] is not None]
    combined = {"max_abs": max_abs, "snr_db": min(snrs) if snrs else None}
    for r in results:
        for key in ("shape_mismatch", "non_finite"):
            if key in r:
                combined[key] = r[key]
    return combined


class ParityReport:
    """Collects comparisons for one format and renders its manifest entry."""

    def __init__(self, runtime: str, lengths, tolerance: float, unit: str = "frames"):
        self.runtime = runtime
        self.unit = unit  # what the lengths count: mel frames (vocoders) or tokens (acoustic)
        self.lengths = list(lengths)
        self.tolerance = tolerance
        self.results: list[dict] = []
        self.per_length: dict[int, list[dict]] = {}
        self.extra: dict = {}

    def add(self, frames: int, result: dict) -> None:
        self.results.append(result)
        self.per_length.setdefault(frames, []).append(result)

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(
            r["max_abs"] <= self.tolerance for r in self.results)

    def _combined(self) -> dict:
        return worst(self.results)

    def summary(self) -> dict:
        combined = self._combined()
        entry = {"reference": "pytorch", "runtime": self.runtime, "lengths": self.lengths,
                 "length_unit": self.unit,
                 "max_abs": json_number(combined["max_abs"]), "snr_db": combined["snr_db"],
                 "tolerance": self.tolerance, "passed": self.passed}
        entry["per_length"] = {
            str(frames): {"max_abs": json_number(worst(rs)["max_abs"]),
                          "snr_db": worst(rs)["snr_db"]}
            for frames, rs in self.per_length.items()}
        for key in ("shape_mismatch", "non_finite"):
            if key in combined:
                entry[key] = combined[key]
        entry.update(self.extra)
        return entry

    def describe(self) -> str:
        combined = self._combined()
        snr = "exact" if combined["snr_db"] is None and combined["max_abs"] == 0 else (
            f"SNR {combined['snr_db']:.1f} dB" if combined["snr_db"] is not None else "SNR n/a")
        verdict = "ok" if self.passed else f"FAILED (tolerance {self.tolerance:g})"
        lengths = ",".join(map(str, self.lengths))
        spectrum = self.extra.get("spectrum")
        what = "audio through the head ISTFT: " if spectrum else ""
        via = f" (spectra max-abs {_fmt(spectrum['max_abs'])})" if spectrum else ""
        return (f"{what}max-abs {combined['max_abs']:.3g}, {snr} at {lengths} {self.unit}{via}: "
                f"{verdict}")


def _fmt(value) -> str:
    return "n/a" if value is None else format(value, ".3g")


def json_number(value: float):
    # JSON has no Infinity; a shape mismatch or non-finite output is flagged separately.
    return None if not math.isfinite(value) else value
