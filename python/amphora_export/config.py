"""Amphion configs: JSON5 files with recursive `base_config` inheritance and lowercased keys.

Amphion resolves `base_config` against its source root (WORK_DIR); a saved `args.json` is
already merged but still names its base (e.g. "config/vocoder.json"). We look beside the file,
in the file's ancestors (configs inside an Amphion checkout) and in --amphion-root; a base that
cannot be found is reported back so the caller can decide whether the config is complete anyway.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path

import json5

from .errors import ExportError

CONFIG_NAMES = ("args.json", "exp_config.json")


@dataclass
class LoadedConfig:
    config: dict
    path: Path | None
    files: list[Path] = field(default_factory=list)  # every file merged, most derived first
    unresolved_bases: list[str] = field(default_factory=list)


def lowercase_keys(tree):
    """Lowercases dict keys recursively, as Amphion's get_lowercase_keys_config does."""
    if isinstance(tree, dict):
        return {str(k).lower(): lowercase_keys(v) for k, v in tree.items()}
    return tree


def merge(base: dict, override: dict) -> dict:
    """Returns base updated by override; nested dicts merge, everything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_json5(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExportError(f"config file not found: {path}") from None
    except OSError as e:
        raise ExportError(f"cannot read config {path}: {e.strerror or e}") from None
    try:
        data = json5.loads(text)
    except ValueError as e:
        raise ExportError(f"config {path} is not valid JSON5: {e}") from None
    if not isinstance(data, dict):
        raise ExportError(f"config {path} must hold a JSON object, not {type(data).__name__}")
    return data


def _base_candidates(base: str, child: Path, amphion_root: Path | None) -> list[Path]:
    if os.path.isabs(base):
        return [Path(base)]
    candidates = [child.parent / base]
    candidates += [ancestor / base for ancestor in child.parent.parents]
    if amphion_root is not None:
        candidates.append(amphion_root / base)
    return candidates


def _load_tree(path: Path, amphion_root: Path | None, loaded: LoadedConfig,
               chain: tuple[Path, ...]) -> dict:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in chain + (resolved,))
        raise ExportError(f"base_config cycle: {cycle}")
    loaded.files.append(path)
    data = lowercase_keys(_read_json5(path))
    base = data.get("base_config")
    if not base:
        return data
    if not isinstance(base, str):
        raise ExportError(f"config {path}: base_config must be a path string, got {base!r}")
    for candidate in _base_candidates(base, path, amphion_root):
        if candidate.is_file():
            parent = _load_tree(candidate, amphion_root, loaded, chain + (resolved,))
            return merge(parent, data)
    loaded.unresolved_bases.append(f"{base} (named by {path})")
    return data


def load_config(path: str | os.PathLike, amphion_root: str | os.PathLike | None = None
                ) -> LoadedConfig:
    """Loads a config file with its base_config chain merged in (most derived file wins)."""
    path = Path(path)
    root = Path(amphion_root) if amphion_root else None
    if root is not None and not root.is_dir():
        raise ExportError(f"--amphion-root is not a directory: {root}")
    loaded = LoadedConfig(config={}, path=path)
    loaded.config = _load_tree(path, root, loaded, ())
    return loaded


def find_config_near(checkpoint: Path) -> Path | None:
    """The config Amphion saved next to a checkpoint.

    Release checkpoints sit beside args.json; accelerate checkpoints live in
    <exp>/checkpoint/<name>/ with args.json in <exp>, so we also look two and three levels up.
    """
    start = checkpoint if checkpoint.is_dir() else checkpoint.parent
    for directory in [start, *list(start.parents)[:3]]:
        for name in CONFIG_NAMES:
            if (directory / name).is_file():
                return directory / name
    return None


def parse_override(text: str) -> tuple[list[str], object]:
    """Parses one --set KEY.PATH=VALUE; VALUE is JSON5 when it parses, else a plain string."""
    if "=" not in text:
        raise ExportError(f"--set expects KEY=VALUE (e.g. model.hifigan.resblock=\"1\"), "
                          f"got {text!r}")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().lower().split(".") if p]
    if not parts:
        raise ExportError(f"--set has an empty key: {text!r}")
    try:
        value = json5.loads(raw)
    except ValueError:
        value = raw
    return parts, value


def apply_overrides(config: dict, overrides: list[str]) -> dict:
    config = copy.deepcopy(config)
    for text in overrides:
        parts, value = parse_override(text)
        node = config
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ExportError(f"--set {text}: {part} is a {type(child).__name__}, "
                                  "not a section")
            node = child
        node[parts[-1]] = value
    return config


def leaf_paths(tree: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths += leaf_paths(value, path + ".")
        else:
            paths.append(path)
    return paths


def has_path(tree: dict, dotted: str) -> bool:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True
