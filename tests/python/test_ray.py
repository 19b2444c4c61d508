"""examples/ray on a local Ray cluster of 2 CPUs, with the shipped reference vocoder: the Serve
deployment answers /vocode and /stream with the offline vocode() output, and the Ray Data job
vocodes a folder of mels and the example wavs as the Vocoder does, each with 1 and then 2
workers. The throughput of both is printed, not asserted: on 2 cores shared with the test
itself (and whatever else runs), 2 workers are not reliably faster by a fixed ratio."""

from __future__ import annotations

import io
import os
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import amphora
from amphora_export.quality import amphion_mel, read_wav
from e2e_util import ROOT, export_package

ray = pytest.importorskip("ray")
from ray import serve  # noqa: E402

EXAMPLES = ROOT / "examples" / "ray"
sys.path.insert(0, str(EXAMPLES))
import serve_vocoder  # noqa: E402
import vocode_folder  # noqa: E402

TOLERANCE = 1e-4
REQUESTS = 16  # per throughput measure, 8 at a time
FRAMES = 1000  # 11.6 s of audio, about 0.2 s of one core's time


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return export_package("vocoder", tmp_path_factory.mktemp("ray") / "vocoder", "--checkpoint",
                          str(ROOT / "models" / "hifigan-flite-v1-quarter"))


@pytest.fixture(scope="module")
def cluster():
    # The workers import the examples by name, and amphora_export (for wavs) from python/.
    path = os.pathsep.join([str(EXAMPLES), str(ROOT / "python")])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}})
    yield
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="module")
def port(cluster):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    serve.start(http_options={"host": "127.0.0.1", "port": free})
    return free


def mels(count: int) -> list[np.ndarray]:
    """Log-mel-like noise, [80, FRAMES]."""
    return [np.random.default_rng(seed).normal(-5, 2, (80, FRAMES)).astype(np.float32)
            for seed in range(count)]


def post(port: int, path: str, mel: np.ndarray) -> bytes:
    body = io.BytesIO()
    np.save(body, mel)
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body.getvalue())
    with urllib.request.urlopen(request, timeout=60) as response:
        assert response.headers["X-Sample-Rate"]
        return response.read()


def report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n  ray: {line}")


def test_serve_equals_offline_with_1_and_2_replicas(package, port, capsys):
    vocoder = amphora.Vocoder(package, threads=1)
    inputs = mels(REQUESTS)
    offline = [vocoder.vocode(mel) for mel in inputs]
    audio_seconds = sum(a.size for a in offline) / vocoder.sample_rate
    for replicas in (1, 2):
        serve.run(serve_vocoder.app(str(package), replicas=replicas), route_prefix="/")
        # Each answer is the offline output: whole, and streamed in uneven chunks.
        got = np.frombuffer(post(port, "/vocode", inputs[0]), np.float32)
        np.testing.assert_allclose(got, offline[0], atol=TOLERANCE)
        streamed = np.frombuffer(post(port, "/stream?chunk_frames=7", inputs[1]), np.float32)
        np.testing.assert_allclose(streamed, offline[1], atol=TOLERANCE)
        with pytest.raises(urllib.error.HTTPError) as refused:
            post(port, "/vocode", np.zeros((3, 10), np.float32))
        assert refused.value.code == 400 and b"bins" in refused.value.read()

        with ThreadPoolExecutor(8) as pool:
            # Untimed first: a replica's first run of a shape plans its kernels. Then the best
            # of three rounds, the machine being shared.
            list(pool.map(lambda mel: post(port, "/vocode", mel), inputs))
            seconds = float("inf")
            for _ in range(3):
                start = time.perf_counter()
                answers = list(pool.map(lambda mel: post(port, "/vocode", mel), inputs))
                seconds = min(seconds, time.perf_counter() - start)
        for answer, expected in zip(answers, offline):
            np.testing.assert_allclose(np.frombuffer(answer, np.float32), expected,
                                       atol=TOLERANCE)
        report(capsys, f"serve, {replicas} replica(s): {REQUESTS} requests of {FRAMES} frames "
                       f"in {seconds:.2f} s = {REQUESTS / seconds:.1f} req/s, "
                       f"{audio_seconds / seconds:.1f}x real time")
    serve.delete("default")  # its replicas hold the cluster's CPUs


def test_data_job_equals_offline_with_1_and_2_workers(package, cluster, tmp_path, capsys):
    vocoder = amphora.Vocoder(package, threads=1)
    source = tmp_path / "in"
    source.mkdir()
    inputs = mels(REQUESTS)
    for i, mel in enumerate(inputs):
        np.save(source / f"mel{i}.npy", mel)
    shutil.copy(ROOT / "examples" / "speech_slt.wav", source)
    for workers in (1, 2):
        output = tmp_path / f"out{workers}"
        done = vocode_folder.vocode_folder(str(package), str(source), str(output), workers)
        assert len(done["files"]) == REQUESTS + 1
        for i, mel in enumerate(inputs):
            written, _ = read_wav(output / f"mel{i}.wav")
            # 16-bit wavs (written x32767, read /32768): the offline output up to that.
            np.testing.assert_allclose(written, np.clip(vocoder.vocode(mel), -1, 1),
                                       atol=2 / 32768)
        wav_in, _ = read_wav(source / "speech_slt.wav")
        copy, _ = read_wav(output / "speech_slt.wav")
        expected = vocoder.vocode(amphion_mel(wav_in, vocoder.mel_config).numpy())
        np.testing.assert_allclose(copy, np.clip(expected, -1, 1), atol=2 / 32768)
        report(capsys, f"data, {workers} worker(s): {len(done['files'])} files, "
                       f"{done['audio_seconds']:.1f} s of audio in {done['seconds']:.2f} s = "
                       f"{done['realtime_factor']:.1f}x real time")
