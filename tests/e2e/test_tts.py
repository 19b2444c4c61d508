"""Text to speech end to end: `amphora phonemize` (the English front end on libflite) and
`amphora tts` (front end -> voice package -> vocoder package), with random-init packages of the
exporter's own families: the phone ids are the voice's table's, streamed speech equals offline
speech, a long text is spoken sentence by sentence in bounded memory, and bad input is refused
with one clear error and no output file."""
import json
import re
import subprocess

import numpy as np
import pytest

from e2e_util import ROOT, amphora_bin, export_package, read_pcm16
SENTENCES = "The old fisherman painted a yellow bicycle. Call me at seven, said the baker!"


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("tts")
    out = {"fastspeech2": root / "fs2", "vits": root / "vits", "vocoder": root / "hifigan",
           "vocoder_22k": root / "hifigan_22k"}
    # VITS's small default names no phone table; Amphion's lexicon one (151 symbols + 1) makes
    # it a voice the English front end can drive.
    lexicon = ["--set", "preprocess.phone_extractor=lexicon", "--set", "model.text_token_num=152"]
    for family, extra in (("fastspeech2", []), ("vits", lexicon)):
        export_package("acoustic", out[family], "--family", family, "--random-init", "--seed", "3",
                       *extra)
    # The small random-init vocoder shares the small acoustic defaults' mel settings; the
    # shipped reference vocoder (22.05 kHz, 80 mels) does not.
    export_package("vocoder", out["vocoder"], "--family", "hifigan", "--random-init", "--seed", "0")
    export_package("vocoder", out["vocoder_22k"], "--checkpoint",
                   str(ROOT / "models/hifigan-flite-v1-quarter"))
    return out


def amphora(*args, timeout=300):
    return subprocess.run([str(amphora_bin()), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


# ----------------------------------------------------------------------------- phonemize

def test_phonemize_prints_sentences_phones_and_the_voices_ids(packages):
    proc = amphora("phonemize", "--json", "--voice", packages["fastspeech2"],
                   "Hello world. Dr. Smith paid $42!")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["Hello world.", "Dr. Smith paid $42!"]
    assert lines[0]["phones"] == ["sil", "HH", "AH0", "L", "OW1", "W", "ER1", "L", "D", "sil"]
    assert [w["text"] for w in lines[1]["words"]] == ["doctor", "smith", "paid", "forty", "two",
                                                      "dollars"]
    symbols = json.loads((packages["fastspeech2"] / "amphora.json").read_text())["phones"]
    table = symbols["symbols"]
    for line in lines:
        assert [table[i] for i in line["ids"]] == ["@" + p for p in line["phones"]]


def test_phonemize_record_labels_flites_own_audio(tmp_path):
    wav = tmp_path / "slt.wav"
    proc = amphora("phonemize", "--record", "slt", "--stretch", "1.2", "--wav", wav,
                   "Seven boats drifted past.")
    assert proc.returncode == 0, proc.stderr
    labels = json.loads(proc.stdout)
    samples, rate = read_pcm16(wav)
    assert rate == labels["sample_rate"] == 16000
    ends = [end for _, end in labels["phones"]]
    assert ends == sorted(ends) and abs(ends[-1] - len(samples) / rate) < 0.15
    plain = json.loads(amphora("phonemize", "--json", "Seven boats drifted past.").stdout)
    assert [p for p, _ in labels["phones"]] == plain["phones"]


@pytest.mark.parametrize("text, message", [
    ("", "it is empty"), ("?!...", "only punctuation"),
    ("\u0416\u0416", "characters flite cannot speak")])
def test_phonemize_refuses_text_with_nothing_to_speak(text, message):
    proc = amphora("phonemize", text)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


# ----------------------------------------------------------------------------- tts

def tts(packages, voice, out, *extra, vocoder="vocoder", text=SENTENCES):
    args = ["tts", "--voice", packages[voice], "-o", out, "--threads", "2", *extra]
    if vocoder:
        args += ["--vocoder", packages[vocoder]]
    if text is not None:
        args += ["--text", text]
    return amphora(*args)


@pytest.mark.parametrize("voice, vocoder", [("fastspeech2", "vocoder"), ("vits", None)])
def test_streamed_speech_equals_offline_speech(packages, tmp_path, voice, vocoder):
    offline = tts(packages, voice, tmp_path / "offline.wav", vocoder=vocoder)
    assert offline.returncode == 0, offline.stderr
    assert re.search(r"2 sentences, [\d.]+ s of audio .* real-time factor [\d.]+", offline.stdout)
    streamed = tts(packages, voice, tmp_path / "stream.wav", "--stream", "--chunk-frames", "5",
                   vocoder=vocoder)
    assert streamed.returncode == 0, streamed.stderr
    assert re.search(r"first audio after [\d.]+ ms", streamed.stdout)
    a, rate = read_pcm16(tmp_path / "offline.wav")
    b, _ = read_pcm16(tmp_path / "stream.wav")
    assert rate == json.loads((packages[voice] / "amphora.json").read_text())["sample_rate"]
    assert len(a) == len(b) > rate // 10
    # Streaming is exact to 1e-4 before the wav's 16-bit rounding: 4 steps of 1/32768 after.
    assert np.abs(a - b).max() <= 4 / 32768
    assert np.abs(a).max() > 0  # it speaks


def test_speaker_and_speed_change_the_speech(packages, tmp_path):
    def samples(*extra):
        out = tmp_path / f"{len(list(tmp_path.iterdir()))}.wav"
        proc = tts(packages, "fastspeech2", out, *extra)
        assert proc.returncode == 0, proc.stderr
        return read_pcm16(out)[0]
    normal, fast = samples(), samples("--speed", "2")
    assert len(fast) < 0.7 * len(normal)


def test_a_long_text_file_is_spoken_sentence_by_sentence_in_bounded_memory(packages, tmp_path):
    def peak_rss_kb(text_file, out):
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", str(amphora_bin()), "tts", "--voice",
                               str(packages["fastspeech2"]), "--vocoder",
                               str(packages["vocoder"]), "--text-file", str(text_file), "-o",
                               str(out), "--threads", "2"], capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, proc.stderr
        return int(proc.stderr.strip().splitlines()[-1]), proc
    sentence = "The quick brown fox jumps over 13 lazy dogs near the river. "
    small, large = tmp_path / "small.txt", tmp_path / "large.txt"
    small.write_text(sentence * 20)
    large.write_text(sentence * (100 * 1024 // len(sentence)))
    small_rss, _ = peak_rss_kb(small, tmp_path / "small.wav")
    large_rss, proc = peak_rss_kb(large, tmp_path / "large.wav")
    count = 100 * 1024 // len(sentence)
    assert f"{count} sentences" in proc.stdout
    assert f"sentence 1/{count}" in proc.stderr  # progress on a long text
    # 80x the text (and the audio): memory grows by the wav writer's buffers at most.
    assert large_rss < small_rss * 1.5 + 20_000, (small_rss, large_rss)
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.parametrize("case, extra, message", [
    ("empty", ["--text", ""], "it is empty"),
    ("punctuation", ["--text", "?! ... !"], "only punctuation"),
    ("unsupported", ["--text", "\u0416\u0416\u0416"], "U+0416"),
    ("speaker", ["--text", "Hello.", "--speaker", "7"], "speaker 7 is out of range"),
    ("speed", ["--text", "Hello.", "--speed", "0"], "speed 0 is outside"),
    ("both", ["--text", "Hello.", "--text-file", "x.txt"], "one of the two"),
    ("missing file", ["--text-file", "no/such.txt"], "no/such.txt"),
])
def test_bad_input_fails_clearly_with_no_output(packages, tmp_path, case, extra, message):
    out = tmp_path / "out.wav"
    proc = tts(packages, "fastspeech2", out, *extra, text=None)
    assert proc.returncode != 0, case
    assert message in proc.stderr, proc.stderr
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_a_vocoder_with_other_mel_settings_is_refused(packages, tmp_path):
    out = tmp_path / "out.wav"
    proc = tts(packages, "fastspeech2", out, vocoder="vocoder_22k")
    assert proc.returncode != 0
    assert "sample_rate" in proc.stderr or "n_mels" in proc.stderr, proc.stderr
    assert str(packages["vocoder_22k"]) in proc.stderr
    assert not out.exists()


def test_a_mel_voice_needs_a_vocoder_and_a_waveform_voice_takes_none(packages, tmp_path):
    proc = tts(packages, "fastspeech2", tmp_path / "a.wav", vocoder=None)
    assert proc.returncode != 0 and "give a vocoder" in proc.stderr, proc.stderr
    proc = tts(packages, "vits", tmp_path / "b.wav", vocoder="vocoder")
    assert proc.returncode != 0 and "takes no vocoder" in proc.stderr, proc.stderr
