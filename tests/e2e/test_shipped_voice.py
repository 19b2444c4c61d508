"""The shipped English voice (models/fastspeech2-flite) with the shipped reference vocoder,
exported as the demo exports it (--mel-magnitude), through amphora's C++ text-to-speech, is
understood by a real recogniser: on held-out sentences (never trained on, never used to pick a
checkpoint), PocketSphinx's word error rate on amphora's speech is at most 1.5x its word error
rate on flite's own audio of the same sentences and voices."""

import pytest

from amphora_export import speech_measures
from e2e_util import ROOT, export_package
SENTENCES = 20  # five per voice


@pytest.fixture(scope="module")
def packages(tmp_path_factory):
    root = tmp_path_factory.mktemp("shipped")
    out = {"voice": root / "voice", "vocoder": root / "vocoder"}
    export_package("acoustic", out["voice"], "--checkpoint",
                   str(ROOT / "models/fastspeech2-flite"))
    export_package("vocoder", out["vocoder"], "--checkpoint",
                   str(ROOT / "models/hifigan-flite-v1-quarter"), "--mel-magnitude")
    return out


def test_the_shipped_voice_is_understood_about_as_well_as_flite(packages, tmp_path):
    items = speech_measures.held_out(ROOT / "out" / "reference-train", SENTENCES, None, tmp_path)
    results = speech_measures.evaluate_tts(items, str(packages["voice"]),
                                           str(packages["vocoder"]))
    overall = results["overall"]
    assert overall["sentences"] == SENTENCES
    assert overall["flite_wer"] < 0.4, "the recogniser itself is off: flite's own audio fails"
    assert overall["amphora_wer"] <= speech_measures.TTS_TARGET_RATIO * overall["flite_wer"], (
        speech_measures.tts_table(results))
