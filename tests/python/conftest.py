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
