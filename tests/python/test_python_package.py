"""The Python package amphora (pip install .; scripts/setup.sh installs it): vocoders, models and
text to speech from numpy, against the `amphora` CLI on the same inputs; streaming equals
offline; errors are amphora.Error naming what is wrong; compute releases the GIL; the stubs
describe the module."""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import amphora
from e2e_util import ROOT, amphora_bin, export_package, read_pcm16, run_onnxruntime
from exported_family import package_cache

TOLERANCE = 1e-4
TEXT = "The old fisherman painted a yellow bicycle. Call me at seven, said the baker!"


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    return package_cache(tmp_path_factory.mktemp("python_packages"), ("onnx",))


@pytest.fixture(scope="module")
def hifigan(packages):
    return packages("hifigan")


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    """A random-init FastSpeech2 voice and the small HiFi-GAN that shares its mel settings."""
    root = tmp_path_factory.mktemp("python_voice")
    return (export_package("acoustic", root / "fs2", "--family", "fastspeech2", "--random-init",
                           "--seed", "3"),
            export_package("vocoder", root / "hifigan", "--family", "hifigan", "--random-init",
                           "--seed", "0"))


def mel_of(exported, frames: int, seed: int = 1) -> np.ndarray:
    """A float32 mel [n_mels, frames] for the exported package."""
    return exported.example(frames, seed)["mel"].numpy()[0].astype(np.float32)


def amphora_cli(*args) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(amphora_bin()), *map(str, args)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, f"amphora {' '.join(map(str, args))}:\n{proc.stderr}"
    return proc


def installed_dir() -> Path:
    return Path(importlib.util.find_spec("amphora._amphora").origin).parent


# ----------------------------------------------------------------------------- the package


def test_the_installed_package_imports_with_its_version():
    # From outside the repository, so that the installed package is the one found.
    proc = subprocess.run([sys.executable, "-c", "import amphora; print(amphora.__version__, "
                           "amphora.__file__)"], capture_output=True, text=True, cwd="/",
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    version, location = proc.stdout.split()
    project = re.search(r"project\(amphora VERSION ([0-9.]+)",
                        (ROOT / "CMakeLists.txt").read_text()).group(1)
    assert version == project == amphora.__version__ == importlib.metadata.version("amphora")
    assert "site-packages" in location


def test_the_stubs_describe_the_module():
    package = installed_dir()
    assert (package / "py.typed").is_file()
    stub = (package / "_amphora.pyi").read_text()
    tree = ast.parse(stub)
    classes = {node.name: {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
               for node in tree.body if isinstance(node, ast.ClassDef)}
    assert {"vocode", "vocode_chunked", "stream"} <= classes["Vocoder"]
    assert {"push", "finish"} <= classes["VocoderStream"]
    assert "run" in classes["Model"] and "speak" in classes["Synthesizer"]
    assert {"Error", "InvalidArgumentError", "IoError"} <= set(classes)
    # The stub is importable Python (annotations unevaluated, as a type checker reads them).
    exec(compile("from __future__ import annotations\n" + stub, "_amphora.pyi", "exec"), {})


# ----------------------------------------------------------------------------- vocoder


def test_vocode_equals_the_cli(hifigan, tmp_path):
    mel = mel_of(hifigan, 40)
    np.save(tmp_path / "mel.npy", mel)
    amphora_cli("vocode", "--model", hifigan.dir, "--mel", tmp_path / "mel.npy",
                "-o", tmp_path / "cli.npy", "--threads", "1")
    vocoder = amphora.Vocoder(hifigan.dir, threads=1)
    audio = vocoder.vocode(mel)
    assert audio.dtype == np.float32 and audio.shape == (40 * hifigan.hop,)
    np.testing.assert_allclose(audio, np.load(tmp_path / "cli.npy").ravel(), atol=TOLERANCE)
    assert (vocoder.family, vocoder.sample_rate, vocoder.hop_length, vocoder.n_mels) == \
        ("hifigan", hifigan.sample_rate, hifigan.hop, hifigan.n_mels)
    assert vocoder.head == "waveform" and not vocoder.needs_f0
    manifest_mel = {k: v for k, v in hifigan.manifest["mel"].items() if k != "log"}
    assert vocoder.mel_config == manifest_mel


def test_mel_forms_and_buffers(hifigan):
    vocoder = amphora.Vocoder(hifigan.dir, threads=1)
    mel = mel_of(hifigan, 24)
    audio = vocoder.vocode(mel)
    # [1, n_mels, T], float64 and a non-contiguous view are the same mel.
    np.testing.assert_array_equal(vocoder.vocode(mel[None]), audio)
    np.testing.assert_array_equal(vocoder.vocode(mel.astype(np.float64)), audio)
    np.testing.assert_array_equal(vocoder.vocode(np.asfortranarray(mel)), audio)
    # A read-only buffer (an HTTP body) is taken as it is.
    np.testing.assert_array_equal(vocoder.vocode(np.frombuffer(mel.tobytes(), np.float32)
                                                 .reshape(mel.shape)), audio)
    # The samples are the library's own buffer, handed over, writable.
    assert not audio.flags.owndata and audio.flags.writeable and audio.flags.c_contiguous


@pytest.mark.parametrize("pushes", [[1], [7, 3, 40], [16]])
def test_stream_concatenation_equals_offline(hifigan, pushes):
    vocoder = amphora.Vocoder(hifigan.dir, threads=1)
    mel = mel_of(hifigan, 53)
    stream = vocoder.stream()
    parts, start, i = [], 0, 0
    while start < mel.shape[1]:
        size = pushes[i % len(pushes)]
        parts.append(stream.push(mel[:, start:start + size]))
        start, i = start + size, i + 1
    parts.append(stream.finish())
    assert stream.frames_pushed == 53 and stream.samples_returned == 53 * hifigan.hop
    np.testing.assert_allclose(np.concatenate(parts), vocoder.vocode(mel), atol=TOLERANCE)
    np.testing.assert_allclose(vocoder.vocode_chunked(mel, 16), vocoder.vocode(mel),
                               atol=TOLERANCE)
    info = vocoder.stream_info
    assert info.streamable and info.history_frames > 0


def test_nsf_takes_f0_like_the_cli(packages, tmp_path):
    nsf = packages("nsf_hifigan")
    inputs = {k: v.numpy()[0].astype(np.float32) for k, v in nsf.example(30, 2).items()}
    np.save(tmp_path / "mel.npy", inputs["mel"])
    np.save(tmp_path / "f0.npy", inputs["f0"])
    amphora_cli("vocode", "--model", nsf.dir, "--mel", tmp_path / "mel.npy", "--f0",
                tmp_path / "f0.npy", "-o", tmp_path / "cli.npy", "--threads", "1")
    vocoder = amphora.Vocoder(nsf.dir, threads=1)
    assert vocoder.needs_f0
    np.testing.assert_allclose(vocoder.vocode(inputs["mel"], inputs["f0"]),
                               np.load(tmp_path / "cli.npy").ravel(), atol=TOLERANCE)
    with pytest.raises(amphora.Error, match="f0"):
        vocoder.vocode(inputs["mel"])


# ----------------------------------------------------------------------------- model


def test_model_run_equals_onnxruntime_and_the_vocoder(hifigan):
    model = amphora.Model(hifigan.dir / "model.onnx", threads=1)
    assert [i.name for i in model.inputs] == ["mel"] and model.inputs[0].dtype == "float32"
    assert model.inputs[0].shape[1] == hifigan.n_mels and model.outputs[0].name == "audio"
    assert "amphora" in model.metadata and model.opset > 0 and model.backend == "native"
    mel = mel_of(hifigan, 20)[None]
    outputs = model.run({"mel": mel})
    assert set(outputs) == {"audio"} and outputs["audio"].shape == (1, 1, 20 * hifigan.hop)
    expected = run_onnxruntime(hifigan.dir / "model.onnx", {"mel": mel})["audio"]
    np.testing.assert_allclose(outputs["audio"], expected, atol=TOLERANCE)
    np.testing.assert_array_equal(outputs["audio"].ravel(),
                                  amphora.Vocoder(hifigan.dir, threads=1).vocode(mel))
    # A list is an array-like too.
    np.testing.assert_array_equal(model.run({"mel": mel.tolist()})["audio"], outputs["audio"])


# ----------------------------------------------------------------------------- errors


def test_errors_are_amphora_errors_naming_the_fault(hifigan, tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(amphora.IoError, match=str(missing)) as caught:
        amphora.Vocoder(missing)
    assert isinstance(caught.value, amphora.Error) and caught.value.code == "i/o error"

    vocoder = amphora.Vocoder(hifigan.dir, threads=1)
    wrong = np.zeros((hifigan.n_mels + 1, 10), np.float32)
    with pytest.raises(amphora.InvalidArgumentError,
                       match=re.escape(f"[{hifigan.n_mels + 1}, 10]")) as caught:
        vocoder.vocode(wrong)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(amphora.InvalidArgumentError, match="hifigan vocoder takes no f0"):
        vocoder.vocode(mel_of(hifigan, 4), np.full(4, 100, np.float32))

    stream = vocoder.stream()
    stream.push(mel_of(hifigan, 4))
    stream.finish()
    with pytest.raises(amphora.Error, match="after finish"):
        stream.push(mel_of(hifigan, 4))

    model = amphora.Model(hifigan.dir, threads=1)
    with pytest.raises(amphora.InvalidArgumentError, match="unknown input 'x'"):
        model.run({"x": np.zeros((1, hifigan.n_mels, 4), np.float32)})
    with pytest.raises(amphora.InvalidArgumentError, match="input 'mel': dtype complex64"):
        model.run({"mel": np.zeros((1, hifigan.n_mels, 4), np.complex64)})
    with pytest.raises(amphora.InvalidArgumentError, match="threads -1"):
        amphora.Model(hifigan.dir, threads=-1)


# ----------------------------------------------------------------------------- the GIL


def longest_pause_of_python(call) -> tuple[float, float]:
    """Runs `call` on a thread while this one counts; returns (the call's seconds, the longest
    this thread went without running). Holding the GIL, the call would stop it throughout."""
    done = threading.Event()
    elapsed = []

    def worker():
        start = time.perf_counter()
        call()
        elapsed.append(time.perf_counter() - start)
        done.set()

    thread = threading.Thread(target=worker)
    last = time.perf_counter()
    longest = 0.0
    thread.start()
    while not done.is_set():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    thread.join()
    return elapsed[0], longest


def test_compute_releases_the_gil(hifigan, voice):
    vocoder = amphora.Vocoder(hifigan.dir, threads=1)
    model = amphora.Model(hifigan.dir, threads=1)
    synthesizer = amphora.Synthesizer(*voice, threads=1)
    mel = mel_of(hifigan, 64)
    long_mel = np.tile(mel, 20)  # long enough (~1 s) that a held GIL would show
    calls = {"vocode": lambda: vocoder.vocode(long_mel),
             "stream": lambda: vocoder.stream().push(long_mel),
             "run": lambda: model.run({"mel": long_mel[None]}),
             "speak": lambda: synthesizer.speak(" ".join([TEXT] * 4))}
    for name, call in calls.items():
        seconds, pause = longest_pause_of_python(call)
        assert seconds > 0.05, f"{name}: too short to tell ({seconds:.3f} s)"
        assert pause < seconds / 2, f"{name}: Python stopped {pause:.3f} s of {seconds:.3f} s"


# ----------------------------------------------------------------------------- text to speech


def test_speech_equals_the_cli_and_streams(voice, tmp_path):
    fs2, vocoder = voice
    amphora_cli("tts", "--voice", fs2, "--vocoder", vocoder, "--text", TEXT, "-o",
                tmp_path / "cli.wav", "--threads", "1")
    synthesizer = amphora.Synthesizer(fs2, vocoder, threads=1)
    assert synthesizer.family == "fastspeech2" and synthesizer.sample_rate > 0
    speech = synthesizer.speak(TEXT)
    cli, _ = read_pcm16(tmp_path / "cli.wav")
    assert speech.shape == cli.shape
    np.testing.assert_allclose(speech, cli, atol=1.01 / 32768)  # the wav's 16-bit rounding

    chunks = list(synthesizer.speak_chunks(TEXT, chunk_frames=8))
    assert len(chunks) > 2
    np.testing.assert_allclose(np.concatenate(chunks), speech, atol=TOLERANCE)

    got = []
    report = synthesizer.speak_to(TEXT, got.append, stream=False)
    assert report["sentences"] == 2 and report["samples"] == speech.size and len(got) == 2
    assert not np.array_equal(synthesizer.speak(TEXT, speed=1.5), speech)


def test_speech_errors_reach_python(voice):
    synthesizer = amphora.Synthesizer(*voice, threads=1)
    with pytest.raises(amphora.InvalidArgumentError, match="nothing to speak"):
        synthesizer.speak("...")
    with pytest.raises(amphora.InvalidArgumentError, match="speaker"):
        synthesizer.speak(TEXT, speaker=5)
    with pytest.raises(amphora.Error, match="speaker"):
        list(synthesizer.speak_chunks(TEXT, speaker=5))

    def refuse(samples):
        raise KeyError("the callback's own error")

    with pytest.raises(KeyError, match="callback's own"):
        synthesizer.speak_to(TEXT, refuse)
    # Closing the iterator early stops the synthesis; the synthesizer is free again after.
    first = next(iter(synthesizer.speak_chunks(" ".join([TEXT] * 8))))
    assert first.size > 0
    assert synthesizer.speak("Hello.").size > 0
