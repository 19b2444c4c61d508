"""Helpers for tests (and bench/load_serve.py) that run `amphora serve`: start it on a free
port, make requests, read streamed audio with the time its first samples arrived."""
import http.client
import json
import pathlib
import signal
import struct
import subprocess
import tempfile
import time

import numpy as np

from e2e_util import amphora_bin

WAV_HEADER_BYTES = 44


class Server:
    """`amphora serve ARGS --port 0`; the port is read from the line it prints when listening."""

    def __init__(self, *args, startup_timeout=120):
        self.log_dir = pathlib.Path(tempfile.mkdtemp(prefix="amphora-serve-"))
        self.stdout_path = self.log_dir / "stdout"
        self.stderr_path = self.log_dir / "stderr"
        # Files, not pipes: a long run's log must not fill a pipe nobody reads.
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([str(amphora_bin()), "serve", "--port", "0",
                                          *map(str, args)], stdout=out, stderr=err)
        deadline = time.monotonic() + startup_timeout
        self.port = None
        while self.port is None:
            for line in self.stdout_path.read_text().splitlines():
                if "listening on http://" in line:
                    self.port = int(line.split("listening on http://")[1].split("/")[0]
                                    .rsplit(":", 1)[1])
            if self.port is None:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError(f"amphora serve did not start:\n{self.stderr()}")
                time.sleep(0.05)

    def stdout(self):
        return self.stdout_path.read_text()

    def stderr(self):
        return self.stderr_path.read_text()

    def connection(self, timeout=300):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=300):
        """One request on a fresh connection: (status, headers, body bytes)."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, headers=None):
        status, headers, data = self.request(method, path, body, headers)
        return status, headers, json.loads(data)

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Stream:
    """A streamed response read piece by piece: status, headers, body, when the first audio
    bytes (past a WAV header) arrived and when the last did, from the request being sent."""

    def __init__(self, server, path, body, headers=None, audio_offset=WAV_HEADER_BYTES,
                 timeout=300):
        conn = server.connection(timeout)
        try:
            start = time.monotonic()
            conn.request("POST", path, body=body, headers=headers or {})
            response = conn.getresponse()
            self.status = response.status
            self.headers = dict(response.getheaders())
            self.first_audio_s = None
            pieces, size = [], 0
            while True:
                piece = response.read1(65536)
                if not piece:
                    break
                pieces.append(piece)
                size += len(piece)
                if self.first_audio_s is None and size > audio_offset:
                    self.first_audio_s = time.monotonic() - start
            self.total_s = time.monotonic() - start
            self.body = b"".join(pieces)
        finally:
            conn.close()


def wav_samples(body):
    """Samples of a streamed WAV (sizes 0xFFFFFFFF: the data runs to the end of the body)."""
    riff, riff_size, wave, fmt, _, tag, channels, rate, _, _, bits, data, data_size = \
        struct.unpack("<4sI4s4sIHHIIHH4sI", body[:WAV_HEADER_BYTES])
    assert (riff, wave, fmt, data) == (b"RIFF", b"WAVE", b"fmt ", b"data")
    assert riff_size == data_size == 0xFFFFFFFF and channels == 1
    payload = body[WAV_HEADER_BYTES:]
    if tag == 3:
        assert bits == 32
        return np.frombuffer(payload, "<f4"), rate
    assert tag == 1 and bits == 16
    return np.frombuffer(payload, "<i2").astype(np.float32) / 32768.0, rate


def wav_file_samples(path):
    """Samples of a wav file with sizes filled in (16-bit PCM or float32), walking its chunks."""
    data = pathlib.Path(path).read_bytes()
    at, tag, rate = 12, None, None
    while at + 8 <= len(data):
        kind, size = struct.unpack("<4sI", data[at:at + 8])
        if kind == b"fmt ":
            tag, _, rate = struct.unpack("<HHI", data[at + 8:at + 16])
        elif kind == b"data":
            payload = data[at + 8:at + 8 + size]
            if tag == 3:
                return np.frombuffer(payload, "<f4"), rate
            return np.frombuffer(payload, "<i2").astype(np.float32) / 32768.0, rate
        at += 8 + size + (size & 1)
    raise ValueError(f"{path}: no data chunk")


def npy_bytes(array):
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def rss_bytes(pid):
    """Resident memory of a process now, from /proc."""
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def parse_prometheus(text):
    """Prometheus text format -> {(name, frozenset(labels)): value}; fails on a malformed line
    or a sample whose family has no TYPE line before it."""
    import re
    sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
    label = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
            continue
        if not line or line.startswith("#"):
            continue
        match = sample.match(line)
        assert match, f"malformed metrics line: {line!r}"
        name, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"no TYPE for {name}"
        pairs = frozenset(label.findall(labels or ""))
        samples[(name, pairs)] = float(value)
    return types, samples


