"""Turning what the user passed (family, checkpoint, config, overrides) into a loaded model.

The rules: a config given with --config wins; otherwise Amphion's args.json / exp_config.json
beside the checkpoint; with --random-init and no config, the family's small default. The family
follows what the config names (model.generator for vocoders, model_type for acoustic models),
and a --family that disagrees is an error rather than a guess.

Vocoders and acoustic models go through the same steps; a ModelKind says where each keeps its
registry and how its config names the family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from . import checkpoint as ckpt
from .config import apply_overrides, find_config_near, has_path, leaf_paths, load_config
from .errors import ExportError
from .progress import Progress


@dataclass(frozen=True)
class ModelKind:
    name: str  # "vocoder" | "acoustic": the manifest's "kind"
    registry: Callable[[], dict]  # name -> spec; imported lazily (each kind imports its models)
    config_field: str  # where an Amphion config names the family, for messages
    named_in: Callable[[dict], object]  # config -> the family name it gives, or None
    noun: str  # what the checkpoint holds, for messages: "generator" | "model"


def _generator_of(config: dict):
    model = config.get("model")
    return model.get("generator") if isinstance(model, dict) else None


def _vocoder_registry() -> dict:
    from .vocoders import FAMILIES

    return FAMILIES


def _acoustic_registry() -> dict:
    from .acoustic import FAMILIES

    return FAMILIES


VOCODER = ModelKind("vocoder", _vocoder_registry, "model.generator", _generator_of, "generator")
ACOUSTIC = ModelKind("acoustic", _acoustic_registry, "model_type",
                     lambda config: config.get("model_type"), "model")


@dataclass
class Source:
    spec: object  # a vocoders.FamilySpec or an acoustic.AcousticSpec
    config: dict
    config_path: Path | None
    checkpoint: ckpt.LoadedCheckpoint | None  # None for --random-init
    notes: list[str] = field(default_factory=list)


def _normalised(name: str) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def family_for_generator(generator: str, kind: ModelKind = VOCODER):
    for name, spec in kind.registry().items():
        if _normalised(name) == _normalised(generator):
            return spec
    return None


def get_spec(kind: ModelKind, name: str):
    registry = kind.registry()
    spec = registry.get(name)
    if spec is None:
        raise ExportError(f"unknown family '{name}'; known: {', '.join(sorted(registry))}")
    return spec


def resolve_family(requested: str | None, config: dict | None, kind: ModelKind = VOCODER):
    spec = get_spec(kind, requested) if requested else None
    named = kind.named_in(config) if isinstance(config, dict) else None
    if named:
        from_config = family_for_generator(named, kind)
        if from_config is None:
            if spec is None:
                raise ExportError(f"the config's {kind.config_field} '{named}' is not a "
                                  f"supported family; known: {', '.join(sorted(kind.registry()))}")
        elif spec is not None and from_config.name != spec.name:
            raise ExportError(f"--family {spec.name} disagrees with the config, whose "
                              f"{kind.config_field} is '{named}' (family {from_config.name})")
        else:
            spec = from_config
    if spec is None:
        raise ExportError(f"cannot tell the model family: pass --family or a config with "
                          f"{kind.config_field}")
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


def validate_config(spec, config: dict, where: str, unresolved: list[str],
                    progress: Progress, kind: ModelKind = VOCODER) -> torch.nn.Module:
    """Builds the model once to prove the config is usable; returns it."""
    try:
        model = spec.build(config)
        spec.mel_settings(config)
        spec.hop_length(config)
    except (ValueError, KeyError, TypeError, IndexError, ZeroDivisionError, RuntimeError) as e:
        detail = f"{type(e).__name__}: {e}" if not isinstance(e, ValueError) else str(e)
        hint = (f"; its base_config could not be found: {', '.join(unresolved)} "
                f"(pass --amphion-root)") if unresolved else ""
        raise ExportError(f"config {where} does not describe a {spec.name} {kind.noun}: "
                          f"{detail}{hint}") from None
    if unresolved:
        missing = _missing_against_default(spec, config)
        extra = f" (keys the family's example config has but this one lacks: " \
                f"{', '.join(missing[:8])})" if missing else ""
        progress.warn(f"base_config not found: {', '.join(unresolved)}; the config is complete "
                      f"enough to build the {kind.noun}, going on{extra}")
    return model


def _read_checkpoint(checkpoint_path: str) -> ckpt.LoadedCheckpoint:
    loaded = ckpt.load_checkpoint(checkpoint_path)
    ckpt.check_finite(loaded.state_dict, str(loaded.weights_file))
    return loaded


def load_source(family: str | None, checkpoint_path: str | None, config_path: str | None,
                amphion_root: str | None, overrides: list[str], random_init: bool, seed: int,
                progress: Progress, kind: ModelKind = VOCODER) -> tuple[Source, torch.nn.Module]:
    """Returns the source description and the model (weight norm on, weights loaded)."""
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
        spec = resolve_family(family, config, kind)
    else:
        spec = resolve_family(family, None, kind)
        config = spec.default_config()
        notes.append(f"using the {spec.name} family's small default config")
    config = apply_overrides(config, overrides)
    where = str(path) if path is not None else f"(default {spec.name} config)"
    loaded_checkpoint = None
    prepare = getattr(spec, "prepare", None)
    if prepare is not None:
        # Some sizes are not in the config: Amphion reads FastSpeech2's speaker count from
        # spk2id.json in the experiment folder, so the model may need the files beside the
        # config and the checkpoint's own shapes before it can be built.
        if checkpoint_path is not None:
            loaded_checkpoint = _read_checkpoint(checkpoint_path)
        try:
            config, found = prepare(config, path, loaded_checkpoint.state_dict
                                    if loaded_checkpoint else None)
        except ValueError as e:
            raise ExportError(f"config {where}: {e}") from None
        notes += found
    torch.manual_seed(seed)
    model = validate_config(spec, config, where, unresolved, progress, kind)
    if checkpoint_path is not None:
        if loaded_checkpoint is None:
            loaded_checkpoint = _read_checkpoint(checkpoint_path)
        notes += loaded_checkpoint.notes
        ckpt.load_into(model, loaded_checkpoint.state_dict, str(loaded_checkpoint.weights_file),
                       kind.noun)
    model.eval()
    return Source(spec, config, path, loaded_checkpoint, notes), model


def clone_generator(source: Source, generator: torch.nn.Module) -> torch.nn.Module:
    """A second generator with the same weights. deepcopy fails on legacy weight norm (its
    computed `weight` is a non-leaf tensor), so build afresh and load the state dict."""
    twin = source.spec.build(source.config)
    twin.load_state_dict(generator.state_dict(), strict=True)
    return twin.eval()
