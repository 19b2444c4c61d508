"""Reading Amphion configs the way every model family does, and describing the mel spectrogram a
package consumes (vocoders) or produces (acoustic models), so the two can be checked against
each other."""

from __future__ import annotations

_MISSING = object()


def cfg_get(section: dict, key: str, default=_MISSING):
    """Reads key from a config section, ignoring case: Amphion lowercases keys when loading, but
    APNet's configs spell them ASP_channel etc., so a dict may arrive in either form."""
    if key in section:
        return section[key]
    lowered = key.lower()
    for name, value in section.items():
        if name.lower() == lowered:
            return value
    if default is _MISSING:
        known = ", ".join(sorted(section)) or "none"
        raise ValueError(f"config is missing '{key}' (keys present: {known})")
    return default


def preprocess(cfg: dict) -> dict:
    return cfg_get(cfg, "preprocess")


def n_mels(cfg: dict) -> int:
    pre = preprocess(cfg)
    for key in ("n_mel", "num_mels", "n_mels"):
        value = cfg_get(pre, key, None)
        if value is not None:
            return int(value)
    raise ValueError("config preprocess section has no n_mel")


def mel_settings(cfg: dict, norm: dict | None = None, center: bool = False,
                 extract_mode: str | None = None) -> dict:
    """The manifest's "mel" entry: how Amphion computed the mels the model was trained on.

    center=False is Amphion's extract_mel_features (reflect-pad (n_fft-hop)/2 each side);
    center=True its Tacotron STFT ("taco" mode, reflect-pad n_fft/2), which FastSpeech2 uses.
    Both take the natural log of the mel magnitude clamped at 1e-5."""
    pre = preprocess(cfg)
    sample_rate = int(cfg_get(pre, "sample_rate"))
    fmax = cfg_get(pre, "fmax", None)
    settings = {
        "sample_rate": sample_rate,
        "n_fft": int(cfg_get(pre, "n_fft")),
        "win_length": int(cfg_get(pre, "win_size")),
        "hop_length": int(cfg_get(pre, "hop_size")),
        "n_mels": n_mels(cfg),
        "fmin": float(cfg_get(pre, "fmin", 0) or 0),
        "fmax": None if fmax is None else float(fmax),
        "center": center,
        "log": "natural",
        "clamp_min": 1e-5,
        "norm": norm,
    }
    if extract_mode is not None:
        settings["extract_mode"] = extract_mode
    return settings
