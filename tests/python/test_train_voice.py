"""The voice trainer (amphora_export.train_voice): durations from flite's phone end times add
up to the mel, targets are Amphion lexicon ids, a stopped run resumes to exactly the weights of
an unbroken one, and what it ships is an Amphion experiment the exporter loads strictly."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from amphora_export import train_reference as corpus
from amphora_export import train_voice as tv
from amphora_export.acoustic.symbols import LEXICON_SYMBOLS

ROOT = corpus.ROOT


def test_frame_durations_follow_the_end_times_and_fill_the_mel():
    rate = tv.MEL["sample_rate"] / tv.MEL["hop_length"]
    ends = [0.1, 0.25, 0.2501, 0.6, 0.9]  # the third phone is shorter than a frame
    durations = tv.frame_durations(ends, 80)
    assert durations.sum() == 80 and (durations >= 0).all()
    assert np.cumsum(durations)[1] == round(0.25 * rate)
    assert durations[2] == 0
    # An end past the mel (a trimmed final silence) is clipped, never negative.
    assert tv.frame_durations([0.1, 5.0, 6.0], 40).tolist() == [round(0.1 * rate),
                                                              40 - round(0.1 * rate), 0]


def test_per_phone_means_skip_phones_without_frames():
    values = np.arange(6, dtype=np.float64)
    assert tv.per_phone(values, np.array([2, 0, 4])).tolist() == [0.5, 0.0, 3.5]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voice")
    corpus.make_corpus(folder, corpus.TEST_SENTENCES + corpus.VALID_SENTENCES + 4, seed=5)
    tv.prepare(folder)
    return folder


def test_targets_are_lexicon_ids_with_durations_that_fill_each_mel(work):
    targets = torch.load(work / "voice_targets.pt", weights_only=False)
    assert [len(targets["data"][s]) for s in ("train", "valid", "test")] == [
        4, corpus.VALID_SENTENCES, corpus.TEST_SENTENCES]
    for item in targets["data"]["train"]:
        assert item["durations"].sum() == item["mel"].shape[0]
        symbols = [LEXICON_SYMBOLS[i] for i in item["ids"]]
        assert symbols[0] == symbols[-1] == "@sil"
        assert all(s.startswith("@") for s in symbols)
        assert len(item["pitch"]) == len(item["energy"]) == len(item["ids"])
    stats = targets["stats"]["pitch"]
    assert 60 < stats["mean"] < 250 and stats["min"] < 0 < stats["max"]


def run(work, steps, restart=False):
    return tv.train(work, steps=steps, batch_size=2, peak_lr=1e-3, seed=3, threads=1,
                    checkpoint_every=2, eval_every=1000, restart=restart)


def test_a_resumed_run_matches_an_unbroken_one(work):
    run(work, 4, restart=True)
    unbroken = torch.load(work / "voice_state.pt", weights_only=False)
    run(work, 2, restart=True)
    resumed_result = run(work, 4)
    resumed = torch.load(work / "voice_state.pt", weights_only=False)
    assert resumed["step"] == unbroken["step"] == resumed_result["steps"] == 4
    for key, value in unbroken["model"].items():
        assert torch.equal(value, resumed["model"][key]), key


def test_ship_writes_an_experiment_the_exporter_loads(work, tmp_path):
    run(work, 2, restart=True)
    weights = tv.ship(work, tmp_path / "voice")
    assert weights.relative_to(tmp_path / "voice").parts[0] == "checkpoint"
    assert all(f.stat().st_size < 8 << 20 for f in weights.parent.iterdir())
    assert json.loads((tmp_path / "voice" / "spk2id.json").read_text()) == tv.SPEAKERS
    package = tmp_path / "package"
    subprocess.run([str(ROOT / "scripts/bin/amphora-export"), "acoustic", "--checkpoint",
                    str(tmp_path / "voice"), "--formats", "onnx", "--output", str(package),
                    "--quiet"], check=True, timeout=600)
    manifest = json.loads((package / "amphora.json").read_text())
    assert manifest["family"] == "fastspeech2"
    assert manifest["speakers"]["names"] == list(tv.SPEAKERS)
    assert manifest["phones"]["symbols"] == LEXICON_SYMBOLS
