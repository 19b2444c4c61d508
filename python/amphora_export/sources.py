"""Turning what the user passed (family, checkpoint, config, overrides) into a loaded generator.

The rules: a config given with --config wins; otherwise Amphion's args.json / exp_config.json
beside the checkpoint; with --random-init and no config, the family's small default. The family
follows the config's model.generator, and a --family that disagrees is an error rather than a
guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint as ckpt
from .config import apply_overrides, find_config_near, has_path, leaf_paths, load_config
from .errors import ExportError
from .families import FAMILIES, FamilySpec, get_family
from .progress import Progress


@dataclass
class Source:
    spec: FamilySpec
    config: dict
    config_path: Path | None
    checkpoint: ckpt.LoadedCheckpoint | None  # None for --random-init
    notes: list[str] = field(default_factory=list)


def _normalised(name: str) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def family_for_generator(generator: str) -> FamilySpec | None:
    for name, spec in FAMILIES.items():
        if _normalised(name) == _normalised(generator):
            return spec
    return None


def resolve_family(requested: str | None, config: dict | None) -> FamilySpec:
    spec = None
    if requested:
        try:
            spec = get_family(requested)
        except ValueError as e:
            raise ExportError(str(e)) from None
    model = config.get("model") if isinstance(config, dict) else None
    generator = model.get("generator") if isinstance(model, dict) else None
    if generator:
        from_config = family_for_generator(generator)
        if from_config is None:
            if spec is None:
                raise ExportError(f"the config's model.generator '{generator}' is not a supported "
                                  f"family; known: {', '.join(sorted(FAMILIES))}")
        elif spec is not None and from_config.name != spec.name:
            raise ExportError(f"--family {spec.name} disagrees with the config, whose "
                              f"model.generator is '{generator}' (family {from_config.name})")
        else:
            spec = from_config
    if spec is None:
        raise ExportError("cannot tell the model family: pass --family or a config with "
                          "model.generator")
    return spec


def _missing_against_default(spec: FamilySpec, config: dict) -> list[str]:
    """Keys the family's default config has that this config lacks (a hint, not a verdict)."""
    default = spec.default_config()
    default_section = default.get("model", {}).get("generator", spec.name)
    section = config.get("model", {}).get("generator", default_section)
    missing = []
    for path in leaf_paths(default):
        if path == "model.generator":
            continue
        mapped = path.replace(f"model.{default_section}.", f"model.{section}.", 1)
        if not has_path(config, mapped):
            missing.append(mapped)
    return missing


def validate_config(spec: FamilySpec, config: dict, where: str, unresolved: list[str],
                    progress: Progress) -> torch.nn.Module:
    """Builds the generator once to prove the config is usable; returns it."""
    try:
        generator = spec.build(config)
        spec.mel_settings(config)
        spec.hop_length(config)
    except (ValueError, KeyError, TypeError, IndexError, ZeroDivisionError, RuntimeError) as e:
        detail = f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e)
        hint = (f"; its base_config could not be found: {', '.join(unresolved)} "
                f"(pass --amphion-root)") if unresolved else ""
        raise ExportError(f"config {where} does not describe a {spec.name} generator: "
                          f"{detail}{hint}") from None
    if unresolved:
        missing = _missing_against_default(spec, config)
        extra = f" (keys the family's example config has but this one lacks: " \
                f"{', '.join(missing[:8])})" if missing else ""
        progress.warn(f"base_config not found: {', '.join(unresolved)}; the config is complete "
                      f"enough to build the generator, going on{extra}")
    return generator


def load_source(family: str | None, checkpoint_path: str | None, config_path: str | None,
                amphion_root: str | None, overrides: list[str], random_init: bool, seed: int,
                progress: Progress) -> tuple[Source, torch.nn.Module]:
    """Returns the source description and the generator (weight norm on, weights loaded)."""
    notes = []
    if checkpoint_path is None and not random_init:
        raise ExportError("pass --checkpoint PATH (or --random-init for an untrained export)")
    if checkpoint_path is not None and not Path(checkpoint_path).exists():
        raise ExportError(f"checkpoint not found: {checkpoint_path}")
    path = Path(config_path) if config_path else None
    if path is None and checkpoint_path is not None:
        path = find_config_near(Path(checkpoint_path))
        if path is None:
            raise ExportError(f"no args.json or exp_config.json beside {checkpoint_path}; "
                              "pass --config")
        notes.append(f"config found beside the checkpoint: {path}")
    unresolved: list[str] = []
    if path is not None:
        loaded = load_config(path, amphion_root)
        config, unresolved = loaded.config, loaded.unresolved_bases
        if len(loaded.files) > 1:
            notes.append("config chain: " + " <- ".join(str(f) for f in reversed(loaded.files)))
        spec = resolve_family(family, config)
    else:
        spec = resolve_family(family, None)
        config = spec.default_config()
        notes.append(f"using the {spec.name} family's small default config")
    config = apply_overrides(config, overrides)
    where = str(path) if path is not None else f"(default {spec.name} config)"
    torch.manual_seed(seed)
    generator = validate_config(spec, config, where, unresolved, progress)
    loaded_checkpoint = None
    if checkpoint_path is not None:
        loaded_checkpoint = ckpt.load_checkpoint(checkpoint_path)
        notes += loaded_checkpoint.notes
        ckpt.check_finite(loaded_checkpoint.state_dict, str(loaded_checkpoint.weights_file))
        ckpt.load_into(generator, loaded_checkpoint.state_dict, str(loaded_checkpoint.weights_file))
    generator.eval()
    return Source(spec, config, path, loaded_checkpoint, notes), generator


def clone_generator(source: Source, generator: torch.nn.Module) -> torch.nn.Module:
    """A second generator with the same weights. deepcopy fails on legacy weight norm (its
    computed `weight` is a non-leaf tensor), so build afresh and load the state dict."""
    twin = source.spec.build(source.config)
    twin.load_state_dict(generator.state_dict(), strict=True)
    return twin.eval()
