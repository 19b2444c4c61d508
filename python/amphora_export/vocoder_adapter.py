"""A low-rank adapter for a pretrained weight-normed vocoder (HiFi-GAN V1 and its kin).

Fine-tuning every weight of the pretrained V1 on the flite corpus would make a 28 MB float16
checkpoint to commit. The adapter changes the same weights through few numbers: each conv's
direction (weight_v) gets a low-rank addition B @ A (LoRA, Hu et al. 2021), and its per-channel
magnitudes (weight_g) and biases are trained as they are. Merged, it is a plain checkpoint in
the base's layout: weight_v + B @ A, the trained weight_g and bias.

A release folder of an adapted vocoder commits ADAPTER_FILE (what the adapter learnt, float16,
and the fingerprint of the base weights it was trained on). The release itself (args.json +
<step>.pt, float32) is made from the base again, by setup:

    python -m amphora_export.vocoder_adapter merge models/hifigan-flite-v1 \
        [--base models/hifigan-universal-v1]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import torch
from torch import nn

from .checkpoint import load_generator_weights, release_weights_file, save_atomically
from .errors import ExportError
from .reference_model import DEFAULT_OUTPUT as DEFAULT_BASE

ADAPTER_FILE = "adapter.bin"  # not .pt: a release folder holds one .pt, the merged checkpoint


def _weight_normed(generator: nn.Module):
    """(name, module) of every module carrying legacy weight norm (weight_g, weight_v)."""
    for name, module in generator.named_modules():
        if "weight_g" in module._parameters and "weight_v" in module._parameters:
            yield name, module


def _add_low_rank(module: nn.Module, inputs) -> None:
    """Runs before weight norm's own hook, which reads weight_v."""
    change = module.adapter_b @ module.adapter_a
    module.weight_v = module.weight_v_base + change.view_as(module.weight_v_base)


def attach(generator: nn.Module, rank: int, seed: int = 0) -> list[nn.Parameter]:
    """Freezes the generator and gives each weight-normed conv an adapter; returns what trains:
    the adapters' A and B, every weight_g and every bias. B starts at zero, so the generator
    starts as it was; A starts at the scale of the weights it changes."""
    if rank < 1:
        raise ValueError(f"adapter rank must be at least 1, not {rank}")
    generator.requires_grad_(False)
    draw = torch.Generator().manual_seed(seed)
    trained = []
    for _, module in _weight_normed(generator):
        base = module._parameters.pop("weight_v").detach()
        module.register_buffer("weight_v_base", base)
        module.weight_v = base
        rows, columns = base.shape[0], base[0].numel()
        scale = float(base.pow(2).mean().sqrt())
        module.adapter_a = nn.Parameter(torch.randn(rank, columns, generator=draw) * scale)
        module.adapter_b = nn.Parameter(torch.zeros(rows, rank))
        hooks = module._forward_pre_hooks
        handle = module.register_forward_pre_hook(_add_low_rank)
        hooks.move_to_end(handle.id, last=False)  # before weight norm's hook
        module.weight_g.requires_grad_(True)
        trained += [module.adapter_a, module.adapter_b, module.weight_g]
        if module.bias is not None:
            module.bias.requires_grad_(True)
            trained.append(module.bias)
    if not trained:
        raise ValueError("the generator has no weight-normed convs to adapt")
    return trained


def adapter_state(generator: nn.Module) -> dict[str, torch.Tensor]:
    """What an attached adapter learnt, by the base checkpoint's parameter names: for each
    weight_v its factors (`<name>.weight_v_a` and `_b`, to be merged as weight_v + B @ A), and
    each weight_g and bias."""
    state = {}
    for name, module in generator.named_modules():
        if not hasattr(module, "adapter_a"):
            continue
        state[f"{name}.weight_v_a"] = module.adapter_a.detach().clone()
        state[f"{name}.weight_v_b"] = module.adapter_b.detach().clone()
        state[f"{name}.weight_g"] = module.weight_g.detach().clone()
        if module.bias is not None:
            state[f"{name}.bias"] = module.bias.detach().clone()
    return state


def merge(base: dict[str, torch.Tensor], adapter: dict[str, torch.Tensor]) -> dict:
    """The base generator_state_dict with the adapter applied (in float32); every adapter entry
    must name a tensor of the base, of a shape that fits it."""
    merged = dict(base)
    for key, value in adapter.items():
        if key.endswith(".weight_v_a"):
            continue  # taken with its B
        factor_b = key.endswith(".weight_v_b")
        target = key[:-2] if factor_b else key
        if target not in base:
            raise KeyError(f"the adapter changes {target}, which the base checkpoint lacks")
        original = base[target]
        if factor_b:
            factor_a = adapter.get(target + "_a")
            if factor_a is None:
                raise KeyError(f"the adapter has B but no A for {target}")
            if value.shape[0] != original.shape[0] or factor_a.shape[1] != original[0].numel():
                raise ValueError(f"{target}: the adapter's factors {tuple(value.shape)} @ "
                                 f"{tuple(factor_a.shape)} do not make its shape "
                                 f"{tuple(original.shape)}")
            change = (value.float() @ factor_a.float()).view_as(original)
            merged[target] = original + change.to(original.dtype)
        else:
            if tuple(original.shape) != tuple(value.shape):
                raise ValueError(f"{target}: the adapter's shape {tuple(value.shape)} is not the "
                                 f"base's {tuple(original.shape)}")
            merged[target] = value.to(original.dtype)
    return merged


# ----------------------------------------------------------------------------- release folders

def fingerprint(state: dict[str, torch.Tensor]) -> str:
    """sha256 of a state dict's names and float32 values: the weights' identity, whatever the
    file's bytes (torch.save output may differ between versions)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().float().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _base_checkpoint(base: Path) -> Path:
    if not (base / "args.json").exists():
        raise ExportError(f"{base}: expected an Amphion release folder (args.json and one "
                          "<step>.pt); for the pretrained V1, run scripts/setup.sh")
    return release_weights_file(base)


def save(folder: Path, generator: nn.Module, step: int, base: Path) -> Path:
    """Writes an attached generator's adapter to folder/ADAPTER_FILE, in float16."""
    path = folder / ADAPTER_FILE
    checkpoint = _base_checkpoint(base)
    state = {"adapter": {k: v.half() for k, v in adapter_state(generator).items()},
             "step": step, "base": checkpoint.name,
             "base_fingerprint": fingerprint(load_generator_weights(checkpoint))}
    save_atomically(path, state)
    return path


def make_release(base: Path, folder: Path) -> Path:
    """folder/<step>.pt and folder/args.json: the base release with folder's adapter applied.
    Kept when newer than both the adapter and the base."""
    checkpoint = _base_checkpoint(base)
    adapter_path = folder / ADAPTER_FILE
    if not adapter_path.exists():
        raise ExportError(f"{adapter_path} is missing")
    adapter = torch.load(adapter_path, map_location="cpu", weights_only=False)
    weights = folder / f"{adapter['step']}.pt"
    newest_input = max(adapter_path.stat().st_mtime, checkpoint.stat().st_mtime)
    if weights.exists() and weights.stat().st_mtime >= newest_input:
        return weights
    base_state = load_generator_weights(checkpoint)
    if fingerprint(base_state) != adapter["base_fingerprint"]:
        raise ExportError(f"{adapter_path} was trained on another base than {checkpoint} "
                          "(the weights' fingerprint differs)")
    try:
        merged = merge(base_state, adapter["adapter"])
    except (KeyError, ValueError) as e:
        raise ExportError(f"{adapter_path}: {e}") from e
    for old in folder.glob("*.pt"):
        old.unlink()
    save_atomically(weights, {"generator_state_dict": merged, "step": adapter["step"]})
    shutil.copyfile(base / "args.json", folder / "args.json")
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m amphora_export.vocoder_adapter",
        description="Make an adapted vocoder's release folder (args.json + <step>.pt) from its "
                    f"{ADAPTER_FILE} and the base release it adapts.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("merge", help="apply FOLDER's adapter to the base (idempotent)")
    run.add_argument("folder", type=Path)
    run.add_argument("--base", type=Path, default=DEFAULT_BASE,
                     help=f"the base release folder (default {DEFAULT_BASE})")
    args = parser.parse_args(argv)
    try:
        print(make_release(args.base, args.folder))
    except ExportError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
