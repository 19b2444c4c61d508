"""Finding and reading Amphion model weights (a vocoder's generator, an acoustic model) in every
form Amphion produces.

Forms: a single .pt/.pth holding generator_state_dict | generator | state_dict | model, a bare
state dict, an accelerate save_state folder (<exp>/checkpoint/<epoch-.._step-N_loss-..>/ with
pytorch_model.bin or model.safetensors, or either sharded beside its .index.json as accelerate's
save_model(max_shard_size=...) writes it; the generator is model 0), "module." prefixes from
multi-GPU training, and weight norm saved by torch >= 2.1 parametrizations.
Nothing is skipped silently: every key or shape that does not fit is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .errors import ExportError

WRAPPER_KEYS = ("generator_state_dict", "generator", "state_dict", "model")
ACCELERATE_FILES = ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                    "pytorch_model.bin.index.json")
_MAX_LISTED = 12


@dataclass
class LoadedCheckpoint:
    state_dict: dict
    given: str  # the path as the user gave it (recorded in the manifest)
    weights_file: Path  # the file the generator weights were read from
    sha256: str
    notes: list[str] = field(default_factory=list)  # how the weights were found, for progress


def _step_of(folder: Path) -> tuple[int, int, float]:
    step = re.search(r"step-(\d+)", folder.name)
    epoch = re.search(r"epoch-(\d+)", folder.name)
    return (int(step.group(1)) if step else -1, int(epoch.group(1)) if epoch else -1,
            folder.stat().st_mtime)


def _weights_in(folder: Path) -> Path | None:
    for name in ACCELERATE_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def _newest_accelerate_checkpoint(folder: Path) -> Path | None:
    roots = [folder / "checkpoint", folder] if (folder / "checkpoint").is_dir() else [folder]
    for root in roots:
        saves = [d for d in root.iterdir() if d.is_dir() and _weights_in(d) is not None]
        if saves:
            return _weights_in(max(saves, key=_step_of))
    return None


def resolve_weights_file(path: Path) -> tuple[Path, list[str]]:
    """Maps what the user passed (file or folder) to the one file holding the generator."""
    if not path.exists():
        raise ExportError(f"checkpoint not found: {path}")
    if path.is_file():
        return path, []
    direct = _weights_in(path)
    if direct is not None:
        return direct, [f"accelerate state: {direct}"]
    newest = _newest_accelerate_checkpoint(path)
    if newest is not None:
        return newest, [f"newest accelerate checkpoint: {newest.parent.name}"]
    # A release folder: "<step>.pt" beside args.json.
    files = sorted(p for p in path.iterdir() if p.suffix in (".pt", ".pth", ".ckpt"))
    if len(files) == 1:
        return files[0], [f"checkpoint file: {files[0].name}"]
    numbered = [p for p in files if p.stem.isdigit()]
    if numbered:
        chosen = max(numbered, key=lambda p: int(p.stem))
        return chosen, [f"highest-step checkpoint file: {chosen.name}"]
    if files:
        names = ", ".join(p.name for p in files)
        raise ExportError(f"{path} holds several checkpoints ({names}); pass one of them")
    raise ExportError(
        f"no checkpoint in {path}: expected a .pt/.pth file, or an accelerate folder with "
        f"checkpoint/<name>/{ACCELERATE_FILES[1]} or {ACCELERATE_FILES[0]}")


def _shards(index: Path) -> list[Path]:
    """The shard files a sharded checkpoint's index names, in order."""
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ExportError(f"cannot read checkpoint index {index}: {e}") from None
    return [index.parent / name for name in sorted(set(weight_map.values()))]


def sha256_of(path: Path) -> str:
    """Of the file, or of a sharded checkpoint's shards in order."""
    digest = hashlib.sha256()
    for part in _shards(path) if path.name.endswith(".index.json") else [path]:
        with open(part, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _read(path: Path):
    if path.name.endswith(".index.json"):
        merged = {}
        for shard in _shards(path):
            merged.update(_read(shard))
        return merged
    try:
        if path.suffix == ".safetensors":
            import safetensors.torch

            return safetensors.torch.load_file(str(path), device="cpu")
        return torch.load(str(path), map_location="cpu")
    except PermissionError:
        raise ExportError(f"cannot read checkpoint {path}: permission denied") from None
    except ModuleNotFoundError as e:
        # The file pickles whole training objects, not just tensors.
        raise ExportError(f"cannot read checkpoint {path}: it pickles objects of module "
                          f"'{e.name}'; save the generator's state_dict() instead") from None
    except Exception as e:  # pickle, zip and safetensors errors have no common base class
        raise ExportError(f"cannot read checkpoint {path}: {type(e).__name__}: {e}") from None


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(v, torch.Tensor) for v in obj.values())


def extract_state_dict(obj, path: Path) -> tuple[dict, list[str]]:
    """Picks the generator's state dict out of whatever the checkpoint file holds."""
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), ["checkpoint holds a whole module"]
    if not isinstance(obj, dict):
        raise ExportError(f"checkpoint {path} holds a {type(obj).__name__}, not a state dict")
    if INT8_KEY in obj:
        return from_int8_rows(obj[INT8_KEY]), ["weights stored as int8 rows, widened to float32"]
    for key in WRAPPER_KEYS:
        if key in obj:
            inner = obj[key]
            if isinstance(inner, torch.nn.Module):
                inner = inner.state_dict()
            if _is_state_dict(inner):
                return dict(inner), [f"weights from checkpoint['{key}']"]
            if isinstance(inner, dict):
                bad = sorted(k for k, v in inner.items() if not isinstance(v, torch.Tensor))
                raise ExportError(f"checkpoint {path}: ['{key}'] has non-tensor entries: "
                                  f"{_listing(bad)}")
    if _is_state_dict(obj):
        return dict(obj), ["weights from a bare state dict"]
    keys = ", ".join(sorted(map(str, obj.keys()))[:_MAX_LISTED])
    raise ExportError(f"checkpoint {path} holds no model state dict: expected one of "
                      f"{', '.join(WRAPPER_KEYS)} or a bare state dict; top-level keys: {keys}")


_PARAMETRIZED = re.compile(r"^(.*)\.parametrizations\.([A-Za-z0-9_]+)\.original([01])$")


def normalise_keys(state_dict: dict) -> tuple[dict, list[str]]:
    """Strips multi-GPU "module." prefixes and maps parametrized weight norm to legacy keys."""
    notes = []
    keys = list(state_dict)
    if keys and all(k.startswith("module.") for k in keys):
        state_dict = {k[len("module."):]: v for k, v in state_dict.items()}
        notes.append("stripped the 'module.' prefix")
    renamed = {}
    for key, value in state_dict.items():
        match = _PARAMETRIZED.match(key)
        if match:
            layer, name, index = match.groups()
            key = f"{layer}.{name}_{'g' if index == '0' else 'v'}"
        renamed[key] = value
    if any(_PARAMETRIZED.match(k) for k in state_dict):
        notes.append("mapped parametrizations.weight.original0/1 to weight_g/weight_v")
    return renamed, notes


def load_checkpoint(given: str) -> LoadedCheckpoint:
    path = Path(given)
    weights_file, notes = resolve_weights_file(path)
    state_dict, more = extract_state_dict(_read(weights_file), weights_file)
    state_dict, renames = normalise_keys(state_dict)
    return LoadedCheckpoint(state_dict=state_dict, given=given, weights_file=weights_file,
                            sha256=sha256_of(weights_file), notes=notes + more + renames)


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return shown + (f" ... and {more} more" if more > 0 else "")


def check_finite(state_dict: dict, source: str) -> None:
    bad = [k for k, v in state_dict.items()
           if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ExportError(f"checkpoint {source} has NaN/Inf weights in {len(bad)} tensor(s): "
                          f"{_listing(sorted(bad))}")


def load_into(model: torch.nn.Module, state_dict: dict, source: str,
              noun: str = "generator") -> None:
    """strict=True loading with an error that lists every missing, unexpected or misshapen key."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    misshapen = sorted(
        f"{k} (checkpoint {list(state_dict[k].shape)}, model {list(expected[k].shape)})"
        for k in set(expected) & set(state_dict) if state_dict[k].shape != expected[k].shape)
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {_listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {_listing(unexpected)}")
    if misshapen:
        problems.append(f"{len(misshapen)} shape mismatch(es): {_listing(misshapen)}")
    if problems:
        raise ExportError(f"checkpoint {source} does not fit the configured {noun}: "
                          + "; ".join(problems)
                          + " (check --family and the config's model section)")
    model.load_state_dict(state_dict, strict=True)


# ----------------------------------------------------------------------------- the trainers' files

def save_atomically(path: Path, state: dict) -> None:
    """torch.save through a .partial file, so that an interrupted save leaves the old file."""
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def packed(state_dict: dict) -> dict:
    """The same tensors as views of one storage (one dtype): torch.save writes each storage as
    its own aligned zip record, and a HiFi-GAN's 234 records cost 43 kB of the repository's
    model budget. torch.load gives the views back; loading them copies as usual."""
    dtypes = {v.dtype for v in state_dict.values()}
    if len(dtypes) != 1:
        raise ValueError(f"packed: one dtype expected, got {sorted(map(str, dtypes))}")
    flat = torch.cat([v.reshape(-1) for v in state_dict.values()])
    views, start = {}, 0
    for name, value in state_dict.items():
        views[name] = flat[start:start + value.numel()].view(value.shape)
        start += value.numel()
    return views


INT8_KEY = "generator_state_dict_int8"  # a release's weights as int8_rows stores them


def int8_rows(state_dict: dict) -> dict:
    """float tensors of more than one weight a row as int8, each row (dim 0) scaled by its largest
    magnitude, with the scales and every other tensor in float16: a quarter of float32's size.
    Under weight norm the rows are weight_v's, whose scale weight_g keeps exactly, so a row's
    rounding only turns it slightly (in a HiFi-GAN, about 0.02 PESQ)."""
    rows, scales, rest = {}, {}, {}
    for name, value in state_dict.items():
        if value.is_floating_point() and value.dim() >= 2 and value[0].numel() > 1:
            flat = value.float().reshape(value.shape[0], -1)
            scale = flat.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
            rows[name] = torch.round(flat / scale).to(torch.int8).reshape(value.shape)
            scales[name] = scale.half().reshape(-1)
        else:
            rest[name] = value.half() if value.is_floating_point() else value
    one_dtype = len({v.dtype for v in rest.values()}) == 1
    return {"rows": packed(rows), "scales": packed(scales),
            "rest": packed(rest) if one_dtype else rest}


def from_int8_rows(stored: dict) -> dict:
    """The float32 state dict that int8_rows stored."""
    weights = {name: value.float() * stored["scales"][name].float()
               .reshape(-1, *([1] * (value.dim() - 1))) for name, value in stored["rows"].items()}
    weights.update({name: value.float() if value.is_floating_point() else value
                    for name, value in stored["rest"].items()})
    return weights


def release_weights_file(path: Path) -> Path:
    """The one <step>.pt of an Amphion release folder, or `path` itself when it is no folder."""
    if path.is_dir():
        found = sorted(path.glob("*.pt"))
        if len(found) != 1:
            raise ExportError(f"{path}: expected one <step>.pt checkpoint, found {len(found)}")
        path = found[0]
    if not path.exists():
        raise ExportError(f"{path}: no such checkpoint")
    return path


def load_generator_weights(path: Path) -> dict:
    """generator_state_dict of an Amphion release folder (its one <step>.pt) or of a .pt file."""
    path = release_weights_file(path)
    state = torch.load(path, map_location="cpu", weights_only=False)
    if INT8_KEY in state:
        return from_int8_rows(state[INT8_KEY])
    if "generator_state_dict" not in state:
        raise ExportError(f"{path}: no generator_state_dict (not an Amphion vocoder checkpoint)")
    return state["generator_state_dict"]
