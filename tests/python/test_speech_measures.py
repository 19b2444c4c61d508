"""Speech measures (amphora_export.speech_measures) and the quality script's commands that use
them: PESQ and STOI are maximal for a signal against itself and fall for noisy speech, the word
error rate counts as the field counts it, the recogniser understands flite and not noise, and the
`tts` and `vocoder` commands score held-out sentences per voice (with a stand-in `amphora tts`)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from amphora_export import quality, speech_measures as sm
from amphora_export import train_reference as tr

SENTENCES = {  # not in the corpus; flite's slt and rms voices
    "slt": "The old fisherman painted a yellow bicycle near the river yesterday morning.",
    "rms": "Seven heavy boxes were delivered to the station before the storm.",
}


def flite(voice: str, text: str, path) -> tuple[np.ndarray, int]:
    subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True,
                   capture_output=True, timeout=60)
    return quality.read_wav(path)


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """voice -> (samples, rate) of SENTENCES spoken by flite (16 kHz)."""
    folder = tmp_path_factory.mktemp("speech")
    return {voice: flite(voice, text, folder / f"{voice}.wav") for voice, text in SENTENCES.items()}


def noisy(samples: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    power = np.mean(samples ** 2) / 10 ** (snr_db / 10)
    return (samples + rng.normal(0, np.sqrt(power), len(samples))).astype(np.float32)


# ----------------------------------------------------------------------------- PESQ and STOI

def test_pesq_and_stoi_are_maximal_for_a_signal_against_itself(speech):
    samples, rate = speech["slt"]
    assert sm.pesq_wb(samples, samples, rate) > 4.4
    assert sm.stoi(samples, samples, rate) > 0.99
    resampled = quality.fft_resample(samples, rate, 22050)  # the vocoders' rate
    assert sm.pesq_wb(resampled, resampled, 22050) > 4.4


def test_pesq_and_stoi_fall_for_noisy_speech(speech):
    samples, rate = speech["rms"]
    clean = sm.speech_scores(samples, samples, rate)
    mild, heavy = (sm.speech_scores(samples, noisy(samples, snr), rate) for snr in (20, 0))
    assert mild["pesq"] < 2.0 and mild["stoi"] < 0.97  # white noise at 20 dB SNR is audible
    assert heavy["pesq"] < 1.5 and heavy["stoi"] < 0.8
    assert clean["stoi"] > mild["stoi"] > heavy["stoi"]


def test_alignment_trims_and_optionally_finds_a_delay(speech):
    samples, rate = speech["slt"]
    delayed = np.concatenate([np.zeros(37, np.float32), samples])
    reference, test = sm.align(samples, delayed)
    assert len(reference) == len(test) == len(samples)
    reference, test = sm.align(samples, delayed, max_lag=100)
    np.testing.assert_array_equal(reference[:len(samples) - 100], test[:len(samples) - 100])
    assert sm.stoi(samples, delayed, rate, max_lag=100) > 0.99
    assert sm.stoi(samples, delayed, rate) < sm.stoi(samples, delayed, rate, max_lag=100)


def test_pesq_of_silence_is_none_not_an_error():
    silence = np.zeros(32000, np.float32)
    with np.errstate(invalid="ignore"):
        assert sm.pesq_wb(silence, silence, 16000) is None


def test_measure_reports_pesq_and_stoi_unless_asked_not_to(speech):
    samples, rate = speech["slt"]
    mel_cfg = dict(tr.MEL, sample_rate=rate)
    result = quality.measure(samples, noisy(samples, 10), mel_cfg)
    assert set(result) == {"log_mel_l1", "mr_stft", "pesq", "stoi"}
    assert result["pesq"] < 2.0 and 0.5 < result["stoi"] < 0.95
    assert set(quality.measure(samples, samples, mel_cfg, speech=False)) == {"log_mel_l1",
                                                                             "mr_stft"}


# ----------------------------------------------------------------------------- word error rate

@pytest.mark.parametrize("reference, hypothesis, expected", [
    ("the cat sat down", "the cat sat down", 0.0),
    ("the cat sat down", "the dog sat down", 0.25),               # one substitution
    ("the cat sat down", "the cat sat right down", 0.25),         # one insertion
    ("the cat sat down", "the sat down", 0.25),                   # one deletion
    ("the cat sat down", "", 1.0),                                # all deleted
    ("the cat", "a dog and a bird", 2.5),                         # can exceed 1
    ("Hello, World! Isn't it?", "hello world isn't it", 0.0),     # case and punctuation
    ("beside the harbour, said my neighbour", "beside the harbor said my neighbor", 0.0),
    ("call me at seven", "call(2) me at seven", 0.0),             # alternate pronunciation mark
])
def test_word_error_rate(reference, hypothesis, expected):
    assert sm.word_error_rate(reference, hypothesis) == pytest.approx(expected)


def test_word_errors_counts_each_kind():
    def kinds(reference, hypothesis):
        counts = sm.word_errors(reference, hypothesis)
        return [counts[k] for k in ("substitutions", "deletions", "insertions", "errors",
                                    "words")]

    assert kinds("a b c d", "a x c d") == [1, 0, 0, 1, 4]
    assert kinds("a b c d", "a c d") == [0, 1, 0, 1, 4]
    assert kinds("a b c d", "a b y c d z") == [0, 0, 2, 2, 4]
    assert kinds("a b c d", "x b d") == [1, 1, 0, 2, 4]
    with pytest.raises(ValueError, match="no words"):
        sm.word_error_rate("...", "anything")


# ----------------------------------------------------------------------------- recogniser

def test_the_recogniser_understands_flite_and_not_noise(speech):
    """PocketSphinx gets one word of the 23 wrong here ("a" dropped); the bound allows 3."""
    errors = words = 0
    for voice, text in SENTENCES.items():
        counts = sm.word_errors(text, sm.transcribe(*speech[voice]))
        errors, words = errors + counts["errors"], words + counts["words"]
    assert errors / words <= 0.15
    samples, rate = speech["slt"]
    noise = np.random.default_rng(2).normal(0, 0.1, len(samples)).astype(np.float32)
    assert sm.word_error_rate(SENTENCES["slt"], sm.transcribe(noise, rate)) >= 0.8
    resampled = quality.fft_resample(samples, rate, 22050)  # any rate goes in
    assert sm.word_error_rate(SENTENCES["slt"], sm.transcribe(resampled, 22050)) <= 0.2


# ----------------------------------------------------------------------------- commands

TEST_ITEMS = [("slt", "The pilot opened the kitchen window."),
              ("rms", "My cousin sold an old radio."),
              ("awb", "The baker counted forty apples."),
              ("kal16", "Where did the twins put the map?")]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A stand-in training work folder: a corpus manifest whose test split is TEST_ITEMS, their
    wavs spoken by flite at the corpus rate."""
    folder = tmp_path_factory.mktemp("work")
    (folder / "corpus").mkdir()
    items = []
    for i, (voice, text) in enumerate(TEST_ITEMS):
        item = {"name": f"test_{i:05d}", "text": text, "voice": voice, "stretch": 1.0,
                "split": "test"}
        samples, rate = flite(voice, text, folder / "raw.wav")
        quality.write_wav(folder / "corpus" / f"{item['name']}.wav",
                          quality.fft_resample(samples, rate, tr.MEL["sample_rate"]),
                          tr.MEL["sample_rate"])
        items.append(item)
    (folder / "corpus" / "manifest.json").write_text(json.dumps({"items": items}))
    return folder


@pytest.fixture
def fake_amphora(tmp_path, monkeypatch):
    """An `amphora` whose tts speaks --text with the flite voice --speaker indexes in
    train_reference.VOICES, logging the speaker ids it was given."""
    log = tmp_path / "speakers.log"
    script = tmp_path / "amphora"
    script.write_text(f"""#!/bin/bash
[ "$1" = tts ] || {{ echo "unknown command $1" >&2; exit 2; }}
voices=({' '.join(tr.VOICES)})
while [ $# -gt 0 ]; do
  case "$1" in --text) text="$2"; shift;; --speaker) speaker="$2"; shift;; -o) out="$2"; shift;;
  esac; shift
done
echo "$speaker" >> {log}
exec flite -voice "${{voices[$speaker]}}" -t "$text" -o "$out"
""")
    script.chmod(0o755)
    monkeypatch.setenv("AMPHORA_BIN", str(script))
    return log


def test_tts_command_scores_amphora_against_flite_per_voice(work, fake_amphora, capsys):
    assert quality.main(["tts", "--voice", "v", "--vocoder", "c", "--work", str(work),
                         "--sentences", "2", "--speakers", "rms,kal16", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert fake_amphora.read_text().split() == ["1", "3"]  # indices of rms and kal16
    assert list(results["voices"]) == ["rms", "kal16"]
    overall = results["overall"]
    assert overall["sentences"] == 2 and overall["words"] == 13
    assert overall["flite_wer"] <= 0.5 and overall["amphora_wer"] <= 0.5
    # the stand-in is flite itself, so it meets the target against flite's own audio
    assert overall["meets_target"]
    assert [e["name"] for e in results["sentences"]] == ["test_00001", "test_00003"]
    table = sm.tts_table(results)
    assert "amphora WER" in table and table.splitlines()[-1].startswith("all")


def test_tts_command_names_a_failing_binary(work, fake_amphora, tmp_path, monkeypatch, capsys):
    broken = tmp_path / "old-amphora"
    broken.write_text("#!/bin/sh\necho 'The following argument was not expected: tts' >&2\n"
                      "exit 109\n")
    broken.chmod(0o755)
    monkeypatch.setenv("AMPHORA_BIN", str(broken))
    assert quality.main(["tts", "--voice", "v", "--vocoder", "c", "--work", str(work),
                         "--sentences", "1"]) == 1
    error = capsys.readouterr().err
    assert "`amphora tts` failed (exit 109)" in error and "not expected: tts" in error


def test_vocoder_command_on_held_out_sentences_and_in_its_original_form(work, capsys):
    checkpoint = str(tr.ROOT / "models" / "hifigan-flite-v1-quarter")
    assert quality.main(["vocoder", "--checkpoint", checkpoint, "--work", str(work),
                         "--sentences", "2", "--speakers", "awb,slt", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert list(results["voices"]) == ["slt", "awb"]  # in the split's order
    for system in ("model", "griffin_lim", "fast_griffin_lim"):
        mean = results["mean"][system]
        assert mean["sentences"] == 2 and 1.0 <= mean["pesq"] <= 4.65 and 0 < mean["stoi"] <= 1
    assert quality.main(["--checkpoint", checkpoint,
                         str(work / "corpus" / "test_00000.wav")]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[-2:] == ["PESQ", "STOI"]
    assert table.splitlines()[1].startswith("test_00000.wav")


def test_held_out_sentences_without_a_corpus_are_synthesised(tmp_path):
    items = sm.held_out(tmp_path / "nowhere", 1, ["rms"], tmp_path)
    planned = [i for i in tr.plan_corpus(sm.CORPUS_SENTENCES, sm.CORPUS_SEED)
               if i["split"] == "test" and i["voice"] == "rms"]
    assert [item["text"] for item in items] == [planned[0]["text"]]
    samples, rate = quality.read_wav(items[0]["path"])
    assert rate == tr.MEL["sample_rate"] and len(samples) > rate
    with pytest.raises(sm.ExportError, match="unknown speaker"):
        sm.held_out(tmp_path, 1, ["bdl"], tmp_path)
