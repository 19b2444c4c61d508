"""Command line: `amphora-export vocoder ...`, `amphora-export acoustic ...` and
`amphora-export inspect PKG_DIR`.

Problems the user can fix print one line ("amphora-export: error: ...") and exit 1; argparse
usage errors exit 2. A traceback means a bug in the exporter (or --debug was given).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap

from . import __version__
from .errors import ExportError

PROG = "amphora-export"
FAMILY_NAMES = ("hifigan", "bigvgan", "melgan", "nsf_hifigan", "vocos", "apnet")
ACOUSTIC_NAMES = ("fastspeech2", "vits", "vits_svc")

EPILOG = textwrap.dedent("""\
    examples:
      amphora-export vocoder --family hifigan --checkpoint exp/hifigan/checkpoint \\
          --output pkg/hifigan
      amphora-export vocoder --family bigvgan --random-init --seed 1 --output /tmp/bigvgan \\
          --formats onnx
      amphora-export inspect pkg/hifigan
    """)

ACOUSTIC_EPILOG = textwrap.dedent("""\
    examples:
      amphora-export acoustic --family fastspeech2 --checkpoint ckpts/tts/fs2_ljspeech \\
          --output pkg/fs2
      amphora-export acoustic --family fastspeech2 --random-init --seed 1 --output /tmp/fs2
      amphora-export acoustic --family fastspeech2 --checkpoint ckpts/tts/fs2_ljspeech \\
          --output pkg/fs2 --formats onnx,torchscript,coreml
      amphora-export acoustic --family vits --checkpoint ckpts/tts/vits_ljspeech \\
          --output pkg/vits --formats onnx
      amphora-export acoustic --family vits_svc --checkpoint ckpts/svc/vitssvc \\
          --output pkg/vitssvc
    """)


def _format_list(text: str, allowed: tuple) -> tuple:
    chosen = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in allowed]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown format {', '.join(unknown) or '(empty)'}; choose from {','.join(allowed)}")
    return chosen


def _formats(text: str) -> tuple:
    from .package import FORMATS

    return _format_list(text, FORMATS)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description=textwrap.fill(
            "Export Amphion vocoder and acoustic model (TTS, SVC) checkpoints to ONNX, TorchScript "
            "and Core ML model packages, with proof of parity against PyTorch.", 79))
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks for errors (for reporting exporter bugs)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    vocoder = commands.add_parser(
        "vocoder", help="export a vocoder checkpoint to a model package",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description=textwrap.fill(
            "Load an Amphion vocoder (checkpoint + config), fold weight norm, export the "
            "requested formats, check each against PyTorch on 37- and 200-frame inputs, and "
            "write PKG_DIR/amphora.json. The package appears only when everything succeeded.",
            79))
    vocoder.add_argument("--family", metavar="NAME",
                         help=f"vocoder family ({', '.join(FAMILY_NAMES)}); optional when the "
                              "config's model.generator names it, an error when it disagrees")
    vocoder.add_argument("--checkpoint", metavar="PATH",
                         help="a .pt/.pth file (generator_state_dict, generator, state_dict, "
                              "model, or a bare state dict), a .safetensors file, or an "
                              "accelerate experiment/checkpoint folder (the newest "
                              "checkpoint/*/ by step is used)")
    vocoder.add_argument("--config", metavar="PATH",
                         help="Amphion config (JSON5, base_config inherited); default: args.json "
                              "or exp_config.json beside the checkpoint or in its experiment "
                              "folder")
    vocoder.add_argument("--output", "-o", metavar="PKG_DIR", required=True,
                         help="package directory to create (must not exist or be empty unless "
                              "--force)")
    vocoder.add_argument("--formats", type=_formats, default=("onnx", "torchscript", "coreml"),
                         metavar="LIST",
                         help="comma-separated subset of onnx,torchscript,coreml (default: all; "
                              "torchscript writes model.ts and the mobile model.ptl)")
    vocoder.add_argument("--opset", type=int, default=17, choices=(14, 15, 16, 17),
                         help="ONNX opset (default 17)")
    vocoder.add_argument("--random-init", action="store_true",
                         help="export randomly initialised weights instead of a checkpoint "
                              "(uses --config, or the family's small default config)")
    vocoder.add_argument("--seed", type=int, default=0,
                         help="seed for --random-init weights and the parity inputs (default 0)")
    vocoder.add_argument("--allow-mismatch", action="store_true",
                         help="write the package even when an exported format differs from "
                              "PyTorch by more than 1e-4 max-abs (recorded as passed: false)")
    vocoder.add_argument("--amphion-root", metavar="DIR",
                         help="Amphion source tree, to resolve base_config paths such as "
                              "config/vocoder.json")
    vocoder.add_argument("--set", dest="overrides", action="append", default=[],
                         metavar="KEY=VALUE",
                         help="override a config value after loading, e.g. "
                              "--set model.hifigan.resblock='\"1\"' (VALUE is JSON5; repeatable)")
    vocoder.add_argument("--coreml-chunk-frames", type=_positive, default=None, metavar="N",
                         help="default input length (frames) of the Core ML model, recorded as "
                              "the chunk size for fixed-shape deployments (default: derived from "
                              "the measured receptive field, at least 64)")
    vocoder.add_argument("--mel-magnitude", action="store_true",
                         help="keep the generator's phase but give each STFT bin the magnitude "
                              "of the mel's least-squares inverse (a Conv and a ConvTranspose "
                              "after the generator): what lifts a small vocoder past "
                              "Griffin-Lim, see docs/exporter.md")
    vocoder.add_argument("--force", action="store_true",
                         help="replace an existing package at PKG_DIR")
    vocoder.add_argument("--quiet", "-q", action="store_true",
                         help="no progress lines (warnings and errors are still shown)")

    _add_acoustic_parser(commands)

    inspect = commands.add_parser(
        "inspect", help="print a package's manifest and parity report",
        description="Print the manifest of a model package (or of a bare .onnx file carrying "
                    "the amphora metadata) and its parity report.")
    inspect.add_argument("package", metavar="PKG_DIR", help="package directory or .onnx file")
    inspect.add_argument("--json", action="store_true", help="print the raw manifest JSON")
    return parser


def _add_acoustic_parser(commands) -> None:
    acoustic = commands.add_parser(
        "acoustic", help="export an acoustic model (TTS: phone ids to mel or waveform; SVC: "
                         "content features and f0 to waveform) to a model package",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=ACOUSTIC_EPILOG,
        description=textwrap.fill(
            "Load an Amphion acoustic model (checkpoint + config), export a graph that takes "
            "phone ids and the model's controls (FastSpeech2: duration/pitch/energy; VITS: a "
            "seed and the noise and length scales) and returns the mel or the waveform (the "
            "length regulator inside, so one file serves every length), or, for VITS-SVC, "
            "frame-aligned content features, f0 (and energy, singer), a seed and the noise "
            "scale and returns the waveform; check each format against Amphion's own inference "
            "on 1, 7 and 50 tokens (SVC: 1, 16 and 100 frames) and a padded batch, and write "
            "PKG_DIR/amphora.json. The package appears only when everything succeeded.", 79))
    acoustic.add_argument("--family", metavar="NAME",
                          help=f"model family ({', '.join(ACOUSTIC_NAMES)}); optional when the "
                               "config's model_type names it, an error when it disagrees")
    acoustic.add_argument("--checkpoint", metavar="PATH",
                          help="a .pt/.pth file (model, generator, state_dict, ... or a bare "
                               "state dict), a .safetensors file, or an accelerate "
                               "experiment/checkpoint folder (the newest checkpoint/*/ by step "
                               "is used)")
    acoustic.add_argument("--config", metavar="PATH",
                          help="Amphion config (JSON5, base_config inherited); default: args.json "
                               "or exp_config.json beside the checkpoint or in its experiment "
                               "folder, whose spk2id.json and symbols.dict are read too")
    acoustic.add_argument("--output", "-o", metavar="PKG_DIR", required=True,
                          help="package directory to create (must not exist or be empty unless "
                               "--force)")
    from .package import ACOUSTIC_DEFAULT_FORMATS

    acoustic.add_argument("--formats", type=_formats,
                          default=ACOUSTIC_DEFAULT_FORMATS, metavar="LIST",
                          help="comma-separated subset of onnx,torchscript,coreml (default: "
                               "onnx,torchscript; torchscript writes model.ts and the mobile "
                               "model.ptl; coreml writes model.mlpackage, checked at spec "
                               "level only, and is refused for vits and vits_svc)")
    acoustic.add_argument("--opset", type=int, default=17, choices=(14, 15, 16, 17),
                          help="ONNX opset (default 17)")
    acoustic.add_argument("--random-init", action="store_true",
                          help="export randomly initialised weights instead of a checkpoint "
                               "(uses --config, or the family's small default config)")
    acoustic.add_argument("--seed", type=int, default=0,
                          help="seed for --random-init weights and the parity inputs (default 0)")
    acoustic.add_argument("--allow-mismatch", action="store_true",
                          help="write the package even when an exported format differs from "
                               "PyTorch beyond the tolerance (recorded as passed: false)")
    acoustic.add_argument("--amphion-root", metavar="DIR",
                          help="Amphion source tree, to resolve base_config paths such as "
                               "config/fs2.json")
    acoustic.add_argument("--set", dest="overrides", action="append", default=[],
                          metavar="KEY=VALUE",
                          help="override a config value after loading, e.g. "
                               "--set model.max_seq_len=2000 (VALUE is JSON5; repeatable)")
    acoustic.add_argument("--force", action="store_true",
                          help="replace an existing package at PKG_DIR")
    acoustic.add_argument("--quiet", "-q", action="store_true",
                          help="no progress lines (warnings and errors are still shown)")


def _run_acoustic(args) -> int:
    if args.random_init and args.checkpoint:
        raise ExportError("--random-init and --checkpoint exclude each other")
    from .acoustic_export import AcousticExportOptions, export_acoustic  # imports torch

    options = AcousticExportOptions(
        output=args.output, family=args.family, checkpoint=args.checkpoint, config=args.config,
        formats=args.formats, opset=args.opset, random_init=args.random_init, seed=args.seed,
        allow_mismatch=args.allow_mismatch, amphion_root=args.amphion_root, force=args.force,
        overrides=args.overrides, quiet=args.quiet)
    export_acoustic(options)
    return 0


def _run_vocoder(args) -> int:
    if args.random_init and args.checkpoint:
        raise ExportError("--random-init and --checkpoint exclude each other")
    from .vocoder import VocoderExportOptions, export_vocoder  # imports torch: takes a moment

    options = VocoderExportOptions(
        output=args.output, family=args.family, checkpoint=args.checkpoint, config=args.config,
        formats=args.formats, opset=args.opset, random_init=args.random_init, seed=args.seed,
        allow_mismatch=args.allow_mismatch, amphion_root=args.amphion_root, force=args.force,
        overrides=args.overrides, coreml_chunk_frames=args.coreml_chunk_frames,
        mel_magnitude=args.mel_magnitude, quiet=args.quiet)
    export_vocoder(options)
    return 0


def _run_inspect(args) -> int:
    from .inspect_package import describe
    from .package import manifest_json, read_manifest

    manifest, path = read_manifest(args.package)
    sys.stdout.write(manifest_json(manifest) if args.json else describe(manifest, path))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = args.debug or bool(os.environ.get("AMPHORA_EXPORT_DEBUG"))
    try:
        if args.command == "vocoder":
            return _run_vocoder(args)
        if args.command == "acoustic":
            return _run_acoustic(args)
        return _run_inspect(args)
    except ExportError as e:
        if debug:
            raise
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing was written", file=sys.stderr)
        return 130
    except OSError as e:
        # Disk full, permission denied while writing: the user's environment, not a bug.
        if debug:
            raise
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        print(f"{PROG}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
