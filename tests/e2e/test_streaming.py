"""Streaming every vocoder family: `amphora vocode --stream` with uneven push sizes (one frame,
sizes around the receptive field, inputs shorter than a push and than the receptive field) and
`--chunked` give the offline output within 1e-4; NSF-HiFiGAN with its source fixed streams f0
and noise alongside the mel; a HiFi-GAN exported with --mel-magnitude (a strided STFT Conv and
its ConvTranspose after the generator) streams too; models that cannot be chunked or streamed
say why."""
import json
import subprocess

import numpy as np
import pytest

from amphora_export.vocoders import FAMILIES
from e2e_util import amphora_bin

PUSH_PATTERNS = ["1", "3,1,7", "16", "5,40,2"]
# Each family as its generator alone, and HiFi-GAN with the mel's magnitude.
VARIANTS = {**{family: (family, []) for family in FAMILIES},
            "hifigan-mel-magnitude": ("hifigan", ["--mel-magnitude"])}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("stream_packages")
    made = {}
    for name, (family, flags) in sorted(VARIANTS.items()):
        out = root / name
        cmd = ["scripts/bin/amphora-export", "vocoder", "--family", family, "--random-init",
               "--seed", "3", "--output", str(out), "--formats", "onnx", "--quiet", *flags]
        if family == "nsf_hifigan":
            cmd += ["--set", "model.nsfhifigan.fix_x_source=true"]
        subprocess.run(cmd, check=True)
        made[name] = out
    return made


def vocode(package, mel_path, out_path, extra, f0_path=None):
    cmd = [str(amphora_bin()), "vocode", "--model", str(package), "--mel", str(mel_path),
           "-o", str(out_path), "--force"] + extra
    if f0_path:
        cmd += ["--f0", str(f0_path)]
    return subprocess.run(cmd, capture_output=True, text=True)


@pytest.mark.parametrize("family", sorted(VARIANTS))
def test_stream_and_chunked_equal_offline(tmp_path, packages, family):
    package = packages[family]
    manifest = json.loads((package / "amphora.json").read_text())
    rng = np.random.default_rng(len(family))
    for frames in (4, 11, 70):  # 4: shorter than any receptive field here (MelGAN needs 4)
        mel = rng.normal(-4.0, 1.5, (manifest["n_mels"], frames)).astype(np.float32)
        np.save(tmp_path / "mel.npy", mel)
        f0_path = None
        if family == "nsf_hifigan":
            f0 = rng.uniform(80, 300, frames).astype(np.float32)
            f0[frames // 3:frames // 2] = 0.0  # an unvoiced stretch
            f0_path = tmp_path / "f0.npy"
            np.save(f0_path, f0)
        done = vocode(package, tmp_path / "mel.npy", tmp_path / "offline.npy", [], f0_path)
        assert done.returncode == 0, done.stderr
        offline = np.load(tmp_path / "offline.npy")
        assert offline.shape == (frames * manifest["hop_length"],)
        for pattern in PUSH_PATTERNS:
            done = vocode(package, tmp_path / "mel.npy", tmp_path / "stream.npy",
                          ["--stream", "--chunk-frames", pattern], f0_path)
            assert done.returncode == 0, done.stderr
            assert "first audio" in done.stdout
            streamed = np.load(tmp_path / "stream.npy")
            assert streamed.shape == offline.shape, (frames, pattern)
            assert float(np.max(np.abs(streamed - offline))) <= 1e-4, (frames, pattern)
        for chunk in (1, 8):
            done = vocode(package, tmp_path / "mel.npy", tmp_path / "chunked.npy",
                          ["--chunked", str(chunk)], f0_path)
            if family == "nsf_hifigan":  # the phase sums over all earlier samples
                assert done.returncode != 0
                assert "chunked mode cannot be exact" in done.stderr
                continue
            assert done.returncode == 0, done.stderr
            chunked = np.load(tmp_path / "chunked.npy")
            assert float(np.max(np.abs(chunked - offline))) <= 1e-4, (frames, chunk)


def test_inspect_reports_the_receptive_field(packages):
    done = subprocess.run([str(amphora_bin()), "inspect", str(packages["hifigan"]), "--json"],
                          capture_output=True, text=True, check=True)
    streaming = json.loads(done.stdout)["streaming"]
    manifest = json.loads((packages["hifigan"] / "amphora.json").read_text())
    measured = manifest["receptive_field"]
    assert streaming["streamable"] is True
    # The graph analysis is exact about dependencies; the exporter's perturbation measurement
    # ignores effects below 1e-6 of the peak, so it can only be smaller.
    assert streaming["history_frames"] >= measured["history_frames"]
    assert streaming["lookahead_frames"] >= measured["lookahead_frames"]
    assert streaming["lookahead_frames"] <= measured["lookahead_frames"] + 4


def test_f0_length_mismatch_is_refused(tmp_path, packages):
    np.save(tmp_path / "mel.npy", np.zeros((20, 12), np.float32))
    np.save(tmp_path / "f0.npy", np.full(10, 120.0, np.float32))
    done = vocode(packages["nsf_hifigan"], tmp_path / "mel.npy", tmp_path / "o.npy",
                  ["--stream"], tmp_path / "f0.npy")
    assert done.returncode != 0
    assert "f0 has 10 values for 12 mel frames" in done.stderr


def test_bench_stream_reports_latency_and_throughput(packages):
    done = subprocess.run([str(amphora_bin()), "bench", str(packages["vocos"]), "--stream",
                           "--chunk-frames", "4", "--frames", "40", "--runs", "2", "--warmup",
                           "0", "--threads", "1", "--json"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["first_audio_ms"] > 0
    assert report["first_audio_after_frames"] >= 4
    assert 0 < report["chunk_p50_ms"] <= report["chunk_p99_ms"]
    assert report["throughput_vs_offline"] > 0
    assert report["peak_rss_mb"] > 0
    refused = subprocess.run([str(amphora_bin()), "bench", str(packages["hifigan"]), "--stream",
                              "--chunk-frames", "0,2", "--frames", "8", "--json"],
                             capture_output=True, text=True)
    assert refused.returncode != 0
    assert "--chunk-frames '0,2'" in refused.stderr
