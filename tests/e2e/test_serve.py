"""`amphora serve` end to end, on small random-init packages: every endpoint, audio streamed as
it is made and equal to the offline CLI's, copy synthesis, text to speech, limits (503, 413,
timeouts), JSON errors, Prometheus metrics, the OpenAPI document, and a graceful SIGTERM."""
import http.client
import json
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

from e2e_util import ROOT, amphora_bin, write_pcm16
from serve_util import (Server, Stream, npy_bytes, parse_prometheus, wav_file_samples,
                        wav_samples)

EXPORT = [str(ROOT / "scripts" / "bin" / "amphora-export")]
TEXT = "The old fisherman painted a yellow bicycle. Call me at seven, said the baker!"
NPY = {"Content-Type": "application/octet-stream"}


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    out = {"vocoder": root / "hifigan", "voice": root / "fs2"}
    subprocess.run(EXPORT + ["vocoder", "--family", "hifigan", "--random-init", "--seed", "0",
                             "--formats", "onnx", "--output", str(out["vocoder"]), "--quiet"],
                   check=True, timeout=600)
    subprocess.run(EXPORT + ["acoustic", "--family", "fastspeech2", "--random-init", "--seed", "3",
                             "--formats", "onnx", "--output", str(out["voice"]), "--quiet"],
                   check=True, timeout=600)
    manifest = json.loads((out["vocoder"] / "amphora.json").read_text())
    out["n_mels"], out["rate"] = manifest["n_mels"], manifest["sample_rate"]
    out["hop"] = manifest["hop_length"]
    return out


@pytest.fixture(scope="module")
def server(packages):
    with Server("--model", f"voc={packages['vocoder']}", "--voice", packages["voice"],
                "--max-streams", 2, "--queue", 4, "--max-body-bytes", 4_000_000,
                "--threads", 1) as s:
        yield s


def amphora(*args):
    proc = subprocess.run([str(amphora_bin()), *map(str, args)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def random_mel(packages, frames, seed=0):
    return np.random.RandomState(seed).randn(packages["n_mels"], frames).astype(np.float32)


def offline_vocode(packages, tmp_path, mel=None, wav=None):
    out = tmp_path / "offline.npy"
    if mel is not None:
        np.save(tmp_path / "mel.npy", mel)
        amphora("vocode", "--model", packages["vocoder"], "--mel", tmp_path / "mel.npy", "-o", out,
                "--force")
    else:
        amphora("vocode", "--model", packages["vocoder"], "--wav", wav, "-o", out, "--force")
    return np.load(out).ravel()


def expect_error(response, status, needle):
    code, headers, body = response
    assert code == status, body
    assert headers["Content-Type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["status"] == status and needle in error["message"], error
    return headers


# ----------------------------------------------------------------------------- vocode

def test_streamed_vocode_equals_the_offline_cli(server, packages, tmp_path):
    mel = random_mel(packages, 150)
    stream = Stream(server, "/v1/vocode?model=voc&subtype=float", npy_bytes(mel), NPY)
    assert stream.status == 200, stream.body
    assert stream.headers["Transfer-Encoding"] == "chunked"
    assert stream.headers["Content-Type"] == "audio/wav"
    assert stream.headers["X-Amphora-Frames"] == "150"
    samples, rate = wav_samples(stream.body)
    expected = offline_vocode(packages, tmp_path, mel=mel)
    assert rate == packages["rate"] and samples.shape == expected.shape
    assert np.abs(samples - expected).max() <= 1e-4


def test_first_audio_leaves_long_before_the_whole_output(server, packages):
    # A long mel: the first samples come after the first pushes, not after all of it.
    stream = Stream(server, "/v1/vocode?subtype=float", npy_bytes(random_mel(packages, 10000)), NPY)
    assert stream.status == 200
    assert stream.first_audio_s < 0.25 * stream.total_s, (stream.first_audio_s, stream.total_s)
    assert len(wav_samples(stream.body)[0]) == 10000 * packages["hop"]


def test_16_bit_wav_and_big_endian_l16_carry_the_same_samples(server, packages, tmp_path):
    mel = random_mel(packages, 60, seed=1)
    expected = offline_vocode(packages, tmp_path, mel=mel)
    wav16, _ = wav_samples(Stream(server, "/v1/vocode", npy_bytes(mel), NPY).body)
    assert np.abs(wav16 - np.clip(expected, -1, 1)).max() <= 2 / 32768
    raw = Stream(server, "/v1/vocode", npy_bytes(mel), {**NPY, "Accept": "audio/L16"},
                 audio_offset=0)
    assert raw.status == 200
    assert raw.headers["Content-Type"] == f"audio/L16;rate={packages['rate']};channels=1"
    l16 = np.frombuffer(raw.body, ">i2").astype(np.float32) / 32768.0
    np.testing.assert_array_equal(l16, wav16)


def test_copy_synthesis_from_a_wav_matches_amphora_vocode_wav(server, packages, tmp_path):
    rate = packages["rate"]
    t = np.arange(rate // 2) / rate
    write_pcm16(tmp_path / "in.wav", 0.4 * np.sin(2 * np.pi * 220 * t), rate)
    expected = offline_vocode(packages, tmp_path, wav=tmp_path / "in.wav")
    stream = Stream(server, "/v1/vocode?subtype=float", (tmp_path / "in.wav").read_bytes(),
                    {"Content-Type": "audio/wav"})
    assert stream.status == 200 and "X-Amphora-Resampled-From" not in stream.headers
    samples, _ = wav_samples(stream.body)
    assert samples.shape == expected.shape and np.abs(samples - expected).max() <= 1e-4


def test_a_wav_at_another_rate_is_resampled_like_the_cli_does(server, packages, tmp_path):
    t = np.arange(44100 // 2) / 44100
    write_pcm16(tmp_path / "in44k.wav", 0.4 * np.sin(2 * np.pi * 330 * t), 44100)
    expected = offline_vocode(packages, tmp_path, wav=tmp_path / "in44k.wav")
    stream = Stream(server, "/v1/vocode?subtype=float", (tmp_path / "in44k.wav").read_bytes())
    assert stream.status == 200
    assert stream.headers["X-Amphora-Resampled-From"] == "44100"
    samples, rate = wav_samples(stream.body)
    assert rate == packages["rate"] and np.abs(samples - expected).max() <= 1e-4


@pytest.mark.parametrize("make_body, status, needle", [
    (lambda p: npy_bytes(np.zeros((p["n_mels"] + 3, 10), np.float32)), 400,
     "shape [{m3}, 10] is not [{m}, frames]"),
    (lambda p: npy_bytes(np.zeros((2, p["n_mels"], 10), np.float32)), 400, "shape [2, {m}, 10]"),
    (lambda p: npy_bytes(np.zeros((p["n_mels"], 10), np.int32)), 400, "dtype int32"),
    (lambda p: npy_bytes(np.full((p["n_mels"], 4), np.nan, np.float32)), 400, "not finite"),
    (lambda p: b"\x93NUMPY garbage", 400, ".npy"),
    (lambda p: b"neither npy nor audio", 400, "the request body"),
    (lambda p: b"", 400, "empty body"),
])
def test_bad_bodies_are_refused_naming_what_is_wrong(server, packages, make_body, status, needle):
    needle = needle.format(m=packages["n_mels"], m3=packages["n_mels"] + 3)
    expect_error(server.request("POST", "/v1/vocode", make_body(packages), NPY), status, needle)


def test_bad_requests_get_json_errors(server, packages):
    mel = npy_bytes(random_mel(packages, 8))
    expect_error(server.request("POST", "/v1/vocode?model=nope", mel, NPY), 404,
                 "model 'nope' is not served (models: voc)")
    expect_error(server.request("POST", "/v1/vocode?mdoel=voc", mel, NPY), 400,
                 "unknown parameter 'mdoel'")
    expect_error(server.request("POST", "/v1/vocode?subtype=pcm8", mel, NPY), 400, "pcm8")
    expect_error(server.request("POST", "/v1/vocode", mel, {**NPY, "Accept": "text/html"}), 406,
                 "none of 'text/html'")
    expect_error(server.request("POST", "/v1/vocode", b"x" * 4_000_001, NPY), 413,
                 "exceeds 4000000 bytes")
    headers = expect_error(server.request("GET", "/v1/vocode"), 405, "use POST")
    assert headers["Allow"] == "POST"
    expect_error(server.request("GET", "/v2/nothing"), 404, "no route GET /v2/nothing")


# ----------------------------------------------------------------------------- tts

def test_tts_streams_what_amphora_tts_writes(server, packages, tmp_path):
    amphora("tts", "--voice", packages["voice"], "--vocoder", packages["vocoder"], "--text", TEXT,
            "--subtype", "float", "-o", tmp_path / "offline.wav", "--threads", "1")
    expected, rate = wav_file_samples(tmp_path / "offline.wav")
    stream = Stream(server, "/v1/tts?subtype=float", json.dumps({"text": TEXT, "speaker": 0}),
                    {"Content-Type": "application/json"})
    assert stream.status == 200, stream.body
    assert stream.headers["X-Amphora-Voice"] == "fs2"
    samples, got_rate = wav_samples(stream.body)
    assert got_rate == rate and samples.shape == expected.shape
    assert np.abs(samples - expected).max() <= 1e-4
    assert stream.first_audio_s < stream.total_s


@pytest.mark.parametrize("body, status, needle", [
    ({"text": "Hello.", "voice": "nobody"}, 404, "voice 'nobody' is not served (voices: fs2)"),
    ({"text": "Hello.", "speaker": 99}, 400, "speaker 99 is out of range"),
    ({"text": "?!..."}, 400, "nothing to speak"),
    ({"text": ""}, 400, "\"text\" is empty"),
    ({"txt": "Hello."}, 400, "unknown field \"txt\""),
    ({"text": "Hello.", "speed": 50}, 400, "\"speed\" 50 is not in"),
])
def test_bad_speech_requests_are_refused(server, body, status, needle):
    expect_error(server.request("POST", "/v1/tts", json.dumps(body),
                                {"Content-Type": "application/json"}), status, needle)


# ----------------------------------------------------------------------------- the rest

def test_models_health_and_page(server, packages):
    status, _, models = server.json("GET", "/v1/models")
    assert status == 200
    [model] = models["models"]
    assert model["name"] == "voc" and model["family"] == "hifigan"
    assert model["n_mels"] == packages["n_mels"] and model["streaming"]["streamable"]
    assert model["manifest"]["sample_rate"] == packages["rate"]
    [voice] = models["voices"]
    assert voice["name"] == "fs2" and voice["vocoder"] == "voc"
    status, _, health = server.json("GET", "/healthz")
    assert status == 200 and health["status"] == "ok"
    status, headers, page = server.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"amphora serve" in page and b"/v1/models" in page


def test_openapi_describes_every_route_and_each_is_served(server, packages):
    status, _, doc = server.json("GET", "/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    bodies = {"/v1/vocode": npy_bytes(random_mel(packages, 4)),
              "/v1/tts": json.dumps({"text": "Hi."})}
    served = []
    for path, operations in doc["paths"].items():
        for method in operations:
            status, _, _ = server.request(method.upper(), path, bodies.get(path), NPY)
            assert status == 200, (method, path, status)
            served.append(f"{method.upper()} {path}")
    assert sorted(served) == sorted(["GET /", "GET /healthz", "GET /metrics", "GET /openapi.json",
                                     "GET /v1/models", "POST /v1/vocode", "POST /v1/tts"])


def test_metrics_are_prometheus_text_counting_what_happened(server, packages):
    before = parse_prometheus(server.request("GET", "/metrics")[2].decode())[1]
    server.request("POST", "/v1/vocode", npy_bytes(random_mel(packages, 20)), NPY)
    server.request("POST", "/v1/vocode?model=nope", b"x", NPY)

    def value(samples, name, **labels):
        return samples.get((name, frozenset(labels.items())), 0.0)

    def counted(samples, status_code):
        labels = {"route": "/v1/vocode", "status": status_code}
        return value(samples, "amphora_requests_total", **labels) - value(
            before, "amphora_requests_total", **labels)

    # A request is counted once its response has gone out, which may be just after the client
    # has read it: wait (briefly) for the count, then it must be exact.
    deadline = time.monotonic() + 10
    while True:
        status, headers, text = server.request("GET", "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        types, after = parse_prometheus(text.decode())
        if (counted(after, "200") and counted(after, "404")) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert counted(after, "200") == 1 and counted(after, "404") == 1
    assert types["amphora_first_audio_seconds"] == "histogram"
    buckets = [v for (name, labels), v in sorted(after.items(), key=lambda kv: str(kv[0]))
               if name == "amphora_first_audio_seconds_bucket"
               and ("route", "/v1/vocode") in labels]
    inf = value(after, "amphora_first_audio_seconds_bucket", route="/v1/vocode", le="+Inf")
    assert buckets and max(buckets) == inf
    assert inf == value(after, "amphora_first_audio_seconds_count", route="/v1/vocode") >= 1
    assert value(after, "amphora_real_time_factor_count", route="/v1/vocode") >= 1
    assert value(after, "amphora_active_streams") == 0
    assert value(after, "amphora_queue_depth") == 0
    assert value(after, "process_resident_memory_bytes") > 10e6


def test_a_client_that_leaves_mid_stream_is_counted_and_harms_nothing(server, packages):
    conn = server.connection()
    conn.request("POST", "/v1/vocode", npy_bytes(random_mel(packages, 40000)), NPY)
    response = conn.getresponse()
    assert response.status == 200 and response.read1(1000)
    conn.sock.close()
    conn.close()
    deadline = time.monotonic() + 60
    while True:
        metrics = parse_prometheus(server.request("GET", "/metrics")[2].decode())[1]
        gone = metrics.get(("amphora_streams_aborted_total",
                            frozenset({"route": "/v1/vocode", "reason": "client_gone"}.items())))
        if gone or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert gone >= 1
    assert server.json("GET", "/healthz")[2]["active_streams"] == 0


# ----------------------------------------------------------------------------- limits, SIGTERM

def test_beyond_max_streams_and_queue_requests_get_503_with_retry_after(packages):
    with Server("--model", packages["vocoder"], "--max-streams", 1, "--queue", 1,
                "--threads", 1) as s:
        mel = npy_bytes(random_mel(packages, 20000))  # each about a second
        results = [None] * 4

        def call(i):
            results[i] = s.request("POST", "/v1/vocode", mel, NPY)

        threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r[0] for r in results)
        assert statuses == [200, 200, 503, 503], statuses
        busy = [r for r in results if r[0] == 503][0]
        assert busy[1]["Retry-After"] == "1"
        assert "busy: 1 streams computing and 1 requests waiting" in json.loads(busy[2])["error"][
            "message"]
        assert s.stop() == 0


def test_a_stream_past_the_time_limit_is_cut_off(packages):
    with Server("--model", packages["vocoder"], "--timeout", 0.05, "--threads", 1) as s:
        conn = s.connection()
        conn.request("POST", "/v1/vocode", npy_bytes(random_mel(packages, 20000)), NPY)
        response = conn.getresponse()
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead):
            response.read()  # no closing chunk: the client sees the cut
        conn.close()
        metrics = parse_prometheus(s.request("GET", "/metrics")[2].decode())[1]
        assert metrics[("amphora_streams_aborted_total",
                        frozenset({"route": "/v1/vocode", "reason": "timeout"}.items()))] == 1
        assert s.stop() == 0
        assert "stream cut at the time limit" in s.stderr()


def test_sigterm_finishes_streams_in_flight_then_exits_0(packages, tmp_path):
    mel = random_mel(packages, 30000, seed=5)  # streams for a second or more
    expected = offline_vocode(packages, tmp_path, mel=mel)
    with Server("--model", packages["vocoder"], "--threads", 1) as s:
        results = {}

        def call():
            results["stream"] = Stream(s, "/v1/vocode?subtype=float", npy_bytes(mel), NPY)

        client = threading.Thread(target=call)
        client.start()
        deadline = time.monotonic() + 30
        while s.json("GET", "/healthz")[2]["active_streams"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(ConnectionRefusedError):  # no new connections
            s.request("GET", "/healthz")
        client.join()
        assert s.proc.wait(60) == 0
        stream = results["stream"]
        assert stream.status == 200
        samples, _ = wav_samples(stream.body)
        assert samples.shape == expected.shape and np.abs(samples - expected).max() <= 1e-4
        assert "SIGTERM: no new connections; finishing 1 streams" in s.stderr()
        assert "stopped" in s.stdout()


def test_a_voice_without_a_matching_vocoder_is_refused_at_start(packages):
    proc = subprocess.run([str(amphora_bin()), "serve", "--voice", packages["voice"], "--port",
                           "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "no served vocoder speaks it" in proc.stderr
    proc = subprocess.run([str(amphora_bin()), "serve"], capture_output=True, text=True)
    assert proc.returncode == 1 and "give at least one --model or --voice" in proc.stderr
