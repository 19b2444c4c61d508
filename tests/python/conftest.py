"""Shared helpers for the exporter tests: import path, Amphion-style checkpoints, CLI runs.

Checkpoints are synthesised here with Amphion's key layout and legacy weight norm on; weight_g is
rescaled away from ||v|| so that folding weight norm is not a no-op.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
PYTHON_DIR = ROOT / "python"
if str(PYTHON_DIR) not in sys.path:
    sys.path.insert(0, str(PYTHON_DIR))


def amphion_generator_state(family: str, config: dict, seed: int = 0) -> dict:
    """A trained-looking state dict: random weights, weight_g not equal to ||weight_v||."""
    from amphora_export.vocoders import get_family

    torch.manual_seed(seed)
    generator = get_family(family).build(config)
    state = {k: v.detach().clone() for k, v in generator.state_dict().items()}
    scale = torch.Generator().manual_seed(seed + 1)
    for key, value in state.items():
        if key.endswith("weight_g"):
            state[key] = value * (0.5 + torch.rand(value.shape, generator=scale))
        elif key.split(".")[-1] in ("alpha", "beta", "gamma"):
            state[key] = value + 0.3 * torch.randn(value.shape, generator=scale)
    return state


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def default_config(family: str) -> dict:
    from amphora_export.vocoders import get_family

    return get_family(family).default_config()


@pytest.fixture
def hifigan_release(tmp_path) -> Path:
    """A release-style folder: <step>.pt holding generator_state_dict, plus args.json."""
    folder = tmp_path / "hifigan_release"
    folder.mkdir()
    config = default_config("hifigan")
    torch.save({"generator_state_dict": amphion_generator_state("hifigan", config), "step": 400},
               folder / "400.pt")
    write_json(folder / "args.json", config)
    return folder


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs amphora-export the way users do (scripts/bin/amphora-export)."""
    env = dict(os.environ)
    env.pop("AMPHORA_EXPORT_DEBUG", None)
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run([str(ROOT / "scripts" / "bin" / "amphora-export"), *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def amphion_acoustic_state(family: str, config: dict, seed: int = 0) -> dict:
    """A trained-looking acoustic model state dict: random weights, plus the values Amphion's
    training moves away from their initial ones (norm gains and biases, batch-norm running
    statistics, sorted bin edges, weight_g, zero-initialised couplings) so that nothing is a
    no-op by accident. Durations stay
    plausible (a few frames per phone) so that the expanded sequences are worth comparing."""
    from amphora_export.acoustic import get_family

    spec = get_family(family)
    torch.manual_seed(seed)
    model = spec.build(config)
    spec.plausible(model, config)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    noise = torch.Generator().manual_seed(seed + 1)
    for key, value in state.items():
        if key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, generator=noise)
        elif key.endswith("running_mean"):
            state[key] = 0.2 * torch.randn(value.shape, generator=noise)
        elif key.endswith("_bins"):
            state[key] = torch.sort(value + 0.05 * torch.randn(value.shape, generator=noise))[0]
        elif key.endswith("weight_g"):
            state[key] = value * (0.5 + torch.rand(value.shape, generator=noise))
        elif key.split(".")[-1] in ("gamma", "beta", "m", "logs"):
            state[key] = value + 0.1 * torch.randn(value.shape, generator=noise)
        elif value.is_floating_point() and not bool(value.any()):
            # Amphion starts VITS couplings and spline projections at zero (the identity);
            # trained ones are not.
            state[key] = 0.05 * torch.randn(value.shape, generator=noise)
    norms = [name for name, module in model.named_modules()
             if isinstance(module, (torch.nn.LayerNorm, torch.nn.BatchNorm1d))]
    for name in norms:
        for key in (f"{name}.weight", f"{name}.bias"):
            state[key] = state[key] + 0.1 * torch.randn(state[key].shape, generator=noise)
    return state
