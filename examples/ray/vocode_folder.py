"""A Ray Data job: vocode every mel (.npy) and wav of a folder in parallel, one vocoder per
worker (an actor that loads it once), writing OUTPUT/<name>.wav.

    PYTHONPATH=python python examples/ray/vocode_folder.py PACKAGE INPUT OUTPUT [--workers 2]

A wav is copy-synthesised (wav -> Amphion's mel -> wav, as `amphora vocode --wav` does); its mel
is computed with the exporter's amphion_mel (python/amphora_export), hence PYTHONPATH."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import ray

import amphora


class VocodeFile:
    """One worker: vocodes one file per row, {"path"} -> {"path", "output", "audio_seconds"}."""

    def __init__(self, package: str, output: str, threads: int = 1):
        self.vocoder = amphora.Vocoder(package, threads=threads)
        self.output = Path(output)

    def mel(self, path: Path) -> np.ndarray:
        if path.suffix == ".npy":
            return np.load(path)
        from amphora_export.quality import amphion_mel, fft_resample, read_wav

        samples, rate = read_wav(path)
        samples = fft_resample(samples, rate, self.vocoder.sample_rate)
        return amphion_mel(samples, self.vocoder.mel_config).numpy()

    def __call__(self, row: dict) -> dict:
        from amphora_export.quality import write_wav

        path = Path(row["path"])
        audio = self.vocoder.vocode(self.mel(path))
        output = self.output / f"{path.stem}.wav"
        write_wav(output, audio, self.vocoder.sample_rate)
        return {"path": str(path), "output": str(output),
                "audio_seconds": audio.size / self.vocoder.sample_rate}


def vocode_folder(package: str, source: str, output: str, workers: int = 2) -> dict:
    """Runs the job on the Ray cluster already initialised; returns what it did and how fast."""
    files = sorted(str(p) for p in Path(source).iterdir() if p.suffix in (".npy", ".wav"))
    Path(output).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = (ray.data.from_items([{"path": f} for f in files], override_num_blocks=len(files))
            .map(VocodeFile, fn_constructor_args=(package, output), concurrency=workers,
                 num_cpus=1)
            .take_all())
    seconds = time.perf_counter() - start
    audio_seconds = sum(r["audio_seconds"] for r in rows)
    return {"files": rows, "seconds": seconds, "audio_seconds": audio_seconds,
            "realtime_factor": audio_seconds / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package")
    parser.add_argument("input", help="a folder of .npy mels and .wav files")
    parser.add_argument("output")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    ray.init()
    done = vocode_folder(args.package, args.input, args.output, args.workers)
    print(f"{len(done['files'])} files, {done['audio_seconds']:.1f} s of audio in "
          f"{done['seconds']:.1f} s ({done['realtime_factor']:.1f}x real time, "
          f"{args.workers} workers)")


if __name__ == "__main__":
    main()
