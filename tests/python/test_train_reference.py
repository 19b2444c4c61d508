"""The reference vocoder's trainer (amphora_export.train_reference): the corpus keeps its test
sentences out of training, a stopped run resumes to exactly the weights of an unbroken one (also
adversarially, discriminators included, from a shipped generator), and what it ships is an
Amphion release the exporter loads strictly."""

from __future__ import annotations

import itertools
import json
import subprocess

import pytest
import torch

from amphora_export import gan, quality
from amphora_export import train_reference as tr


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    tr.make_corpus(folder, tr.TEST_SENTENCES + tr.VALID_SENTENCES + 4, seed=5)
    return folder


def test_corpus_splits_are_disjoint_and_hold_out_the_examples(work):
    splits = {name: tr.load_split(work, name) for name in ("train", "valid", "test")}
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [4, tr.VALID_SENTENCES,
                                                                    tr.TEST_SENTENCES]
    texts = {s: {item["text"] for item in items} for s, items in splits.items()}
    assert not texts["train"] & (texts["valid"] | texts["test"])
    assert not texts["valid"] & texts["test"]
    examples = {text for _, text in quality.EXAMPLES.values()}
    assert not examples & (texts["train"] | texts["valid"] | texts["test"])
    samples, rate = quality.read_wav(splits["train"][0]["path"])
    assert rate == tr.MEL["sample_rate"] and len(samples) > rate // 2
    assert {item["voice"] for item in splits["test"]} == set(tr.VOICES)


def run(work, steps, restart=False):
    return tr.train(work, steps=steps, batch_size=2, peak_lr=5e-4, seed=3, threads=1,
                    checkpoint_every=2, eval_every=1000, restart=restart)


def test_a_resumed_run_matches_an_unbroken_one(work, tmp_path):
    run(work, 4, restart=True)
    unbroken = torch.load(work / "state.pt", weights_only=False)
    run(work, 2, restart=True)
    resumed_result = run(work, 4)
    resumed = torch.load(work / "state.pt", weights_only=False)
    assert resumed["step"] == unbroken["step"] == resumed_result["steps"] == 4
    for key, value in unbroken["generator"].items():
        assert torch.equal(value, resumed["generator"][key]), key


def run_gan(work, steps, init, restart=False):
    return tr.train(work, steps=steps, batch_size=2, peak_lr=2e-4, seed=3, threads=1,
                    checkpoint_every=1, eval_every=1000, restart=restart, gan=True,
                    disc_width=0.25, init=init)


def test_adversarial_training_starts_from_a_shipped_generator_and_resumes_exactly(work,
                                                                                   tmp_path):
    run(work, 2, restart=True)
    start = tr.ship(work, tmp_path / "start").parent
    shipped = tr.load_generator_weights(start)
    run_gan(work, 2, start, restart=True)
    unbroken = torch.load(work / "state.pt", weights_only=False)
    assert unbroken["gan"] and "discriminators" in unbroken
    assert set(unbroken["generator"]) == set(shipped)
    assert any(not torch.equal(v, shipped[k]) for k, v in unbroken["generator"].items())
    run_gan(work, 1, start, restart=True)
    run_gan(work, 2, start)
    resumed = torch.load(work / "state.pt", weights_only=False)
    for part in ("generator", "discriminators"):
        for key, value in unbroken[part].items():
            assert torch.equal(value, resumed[part][key]), (part, key)


def test_a_vocos_run_resumes_exactly_and_ships_a_release_the_exporter_loads(work, tmp_path):
    def run_vocos(steps, restart=False):
        return tr.train(work, steps=steps, batch_size=2, peak_lr=5e-4, seed=3, threads=1,
                        checkpoint_every=2, eval_every=2, restart=restart, family="vocos")

    run_vocos(4, restart=True)
    unbroken = torch.load(work / "state.pt", weights_only=False)
    run_vocos(2, restart=True)
    run_vocos(4)
    resumed = torch.load(work / "state.pt", weights_only=False)
    assert resumed["family"] == "vocos" and resumed["step"] == 4
    for key, value in unbroken["generator"].items():
        assert torch.equal(value, resumed["generator"][key]), key
    with pytest.raises(tr.ExportError, match="holds a vocos run, not hifigan"):
        run(work, 6)
    weights = tr.ship(work, tmp_path / "release", float16=True)
    stored = torch.load(weights)["generator_state_dict"]
    assert {v.dtype for v in stored.values()} == {torch.float16}
    spec, config, generator = quality.load_generator(str(tmp_path / "release"))
    assert spec.name == "vocos" and config["model"]["vocos"]["dim"] == 192
    for key, value in generator.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value.half(), stored[key]), key
    assert sum(p.numel() for p in generator.parameters()) < 2_200_000


def _stub_validation(monkeypatch):
    """Each validation scores better than the last: 20 sentences of V1 and PESQ would take a
    minute, and here validation only picks best.pt."""
    pesq = itertools.count(1.0, 0.1)
    monkeypatch.setattr(tr, "evaluate_items",
                        lambda *a, **k: {"log_mel_l1": 1.0, "mr_stft": 1.0, "pesq": next(pesq),
                                         "stoi": 0.5})


def _resumes_exactly(work, run_steps) -> dict:
    """Two steps in one go, then one step and a resumed second: the same weights. Returns the
    resumed run's state."""
    run_steps(2, restart=True)
    unbroken = torch.load(work / "state.pt", weights_only=False)
    run_steps(1, restart=True)
    run_steps(2)
    resumed = torch.load(work / "state.pt", weights_only=False)
    for key, value in unbroken["generator"].items():
        assert torch.equal(value, resumed["generator"][key]), key
    return resumed


def test_a_v1_adapter_run_resumes_exactly_and_ships_an_adapter_that_merges_back(
        work, tmp_path, monkeypatch):
    """Two steps of the pretrained V1 through an adapter, validation stubbed."""
    base = tr.ROOT / "models" / "hifigan-universal-v1"
    _stub_validation(monkeypatch)

    def run_adapter(steps, restart=False, init=base):
        return tr.train(work, steps=steps, batch_size=1, peak_lr=1e-3, seed=3, threads=2,
                        checkpoint_every=1, eval_every=2, restart=restart,
                        family=tr.ADAPTER_FAMILY, init=init, rank=2)

    with pytest.raises(tr.ExportError, match="adapts a pretrained V1: pass --init"):
        run_adapter(1, restart=True, init=None)
    resumed = _resumes_exactly(work, run_adapter)
    assert resumed["rank"] == 2 and resumed["step"] == 2
    assert any(k.endswith("adapter_b") and v.abs().max() > 0
               for k, v in resumed["generator"].items())

    weights = tr.ship(work, tmp_path / "adapted")
    assert weights == tmp_path / "adapted" / "2.pt"
    adapter = torch.load(tmp_path / "adapted" / "adapter.bin", weights_only=False)
    assert {v.dtype for v in adapter["adapter"].values()} == {torch.float16}
    pretrained = tr.load_generator_weights(base)
    assert (sum(v.numel() for v in adapter["adapter"].values()) <
            0.02 * sum(v.numel() for v in pretrained.values()))
    details = json.loads((tmp_path / "adapted" / "training.json").read_text())
    assert "--family v1-adapter" in details["command"] and "--rank 2" in details["command"]
    spec, config, generator = quality.load_generator(str(tmp_path / "adapted"))
    changed = [k for k, v in generator.state_dict().items() if not torch.equal(v, pretrained[k])]
    assert any(k.endswith("weight_v") for k in changed) and len(changed) > 100


def test_a_v1_student_run_is_cut_from_its_teacher_resumes_exactly_and_ships(
        work, tmp_path, monkeypatch, capsys):
    """Two steps of a student cut out of hifigan-flite-v1, on a few mel frames (the real cut
    fits 160 stretches of 64 frames, minutes and gigabytes), at other widths, and widened from
    the shipped student; validation stubbed."""
    teacher = tr.ROOT / "models" / "hifigan-flite-v1"
    monkeypatch.setattr(tr, "CALIBRATION_SEGMENTS", 2)
    monkeypatch.setattr(tr, "CALIBRATION_FRAMES", 8)
    _stub_validation(monkeypatch)

    def run_student(steps, restart=False, init=teacher, width=None):
        return tr.train(work, steps=steps, batch_size=1, peak_lr=1e-3, seed=3, threads=2,
                        checkpoint_every=1, eval_every=2, restart=restart,
                        family=tr.STUDENT_FAMILY, init=init, width=width)

    with pytest.raises(tr.ExportError, match="cut out of a trained V1: pass --init"):
        run_student(1, restart=True, init=None)
    run(work, 1, restart=True)
    v3_layout = tr.ship(work, tmp_path / "v3-layout").parent
    with pytest.raises(tr.ExportError, match="not a HiFi-GAN V1"):
        run_student(1, restart=True, init=v3_layout)
    resumed = _resumes_exactly(work, run_student)

    weights = tr.ship(work, tmp_path / "student", float16=True)
    assert weights.stat().st_size < 2_000_000
    details = json.loads((tmp_path / "student" / "training.json").read_text())
    assert "--family v1-student" in details["command"] and "--init" in details["command"]
    spec, config, generator = quality.load_generator(str(tmp_path / "student"))
    assert config["model"]["hifigan"]["upsample_initial_channel"] == 128
    assert generator.conv_pre.weight.shape == (128, 80, 7)
    int8 = tr.ship(work, tmp_path / "student-int8", int8=True)
    assert int8.stat().st_size < 0.6 * weights.stat().st_size
    storage = json.loads((tmp_path / "student-int8" / "training.json").read_text())["storage"]
    assert storage.startswith("int8")
    _, _, rounded = quality.load_generator(str(tmp_path / "student-int8"))
    widened = rounded.state_dict()
    for name, value in generator.state_dict().items():
        assert torch.allclose(widened[name], value, rtol=0.01, atol=0.01 * value.abs().max())

    run_student(1, restart=True, width=64)  # another width, resumed at its own width
    with pytest.raises(tr.ExportError, match="holds a student of width 64, not 256"):
        run_student(2, width=256)
    run_student(2)
    tr.ship(work, tmp_path / "narrow")
    details = json.loads((tmp_path / "narrow" / "training.json").read_text())
    assert "--width 64" in details["command"]
    spec, config, generator = quality.load_generator(str(tmp_path / "narrow"))
    assert generator.conv_pre.weight.shape == (64, 80, 7)

    run_student(1, restart=True, init=tmp_path / "student", width=192)  # a student widened
    assert "student of width 192 widened from" in capsys.readouterr().out
    state = torch.load(work / "state.pt", weights_only=False)
    assert state["generator"]["conv_pre.weight_v"].shape == (192, 80, 7)


def test_the_phase_loss_sees_how_phase_runs_not_where_it_starts():
    """Zero for the target's own spectrum and for it with every phase turned by one constant
    (where the pulses fall is not the mel's to tell); positive once the phase is scrambled."""
    torch.manual_seed(0)
    audio = torch.randn(2, 32 * tr.MEL["hop_length"])
    spectrum = quality._amphion_stft(audio, tr.MEL)
    turned = spectrum * torch.exp(torch.tensor(1.3j))
    scrambled = spectrum * torch.exp(1j * 6.28 * torch.rand(spectrum.shape))
    assert float(tr.Losses.phase(spectrum.real, spectrum.imag, audio)) < 1e-4
    assert float(tr.Losses.phase(turned.real, turned.imag, audio)) < 1e-4
    assert float(tr.Losses.phase(scrambled.real, scrambled.imag, audio)) > 0.5


def test_discriminator_losses_tell_real_from_generated_audio():
    """Every period and scale discriminator scores and exposes features; the least-squares
    losses are zero exactly where they should be."""
    torch.manual_seed(0)
    discriminators = gan.Discriminators(width=0.25)
    audio = torch.randn(2, 1, 4097)  # not a multiple of any period: padded by reflection
    results = discriminators(audio)
    assert len(results) == len(gan.PERIODS) + 3
    assert all(score.shape[0] == 2 and len(features) >= 6 for score, features in results)
    ones = [(torch.ones_like(s), f) for s, f in results]
    zeros = [(torch.zeros_like(s), f) for s, f in results]
    assert float(gan.discriminator_loss(ones, zeros)) == 0.0
    assert float(gan.generator_loss(ones)) == 0.0 < float(gan.generator_loss(zeros))
    assert float(gan.feature_matching(results, results)) == 0.0


def test_a_missing_init_checkpoint_is_named(tmp_path):
    with pytest.raises(tr.ExportError, match="no such checkpoint"):
        tr.load_generator_weights(tmp_path / "nothing.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(tr.ExportError, match="expected one <step>.pt"):
        tr.load_generator_weights(tmp_path / "empty")


def test_ship_writes_a_release_the_exporter_loads(work, tmp_path):
    run(work, 2, restart=True)
    weights = tr.ship(work, tmp_path / "release")
    assert weights.name == "2.pt"
    saved = torch.load(weights, map_location="cpu")
    assert set(saved) == {"generator_state_dict", "step"}
    assert "conv_pre.weight_g" in saved["generator_state_dict"]  # weight norm as Amphion saves
    details = json.loads((tmp_path / "release" / "training.json").read_text())
    assert details["best_step"] == 2 and details["seed"] == 3
    assert details["command"].endswith(
        "train --steps 2 --family hifigan --batch-size 2 --lr 0.0005")
    spec, config, generator = quality.load_generator(str(tmp_path / "release"))
    assert spec.name == "hifigan" and config["model"]["hifigan"]["upsample_initial_channel"] == 128
    assert sum(p.numel() for p in generator.parameters()) < 2_500_000  # well under 10 MB


def test_train_without_a_corpus_names_the_missing_manifest(tmp_path):
    with pytest.raises(tr.ExportError, match="manifest.json is missing"):
        run(tmp_path, 1)


def test_the_shipped_reference_model_meets_its_log_mel_bar_on_the_examples():
    """models/hifigan-flite-v1-quarter as the demo uses it: it loads strictly through the
    exporter and copy-synthesises the held-out examples within the reference model's log-mel L1
    bar (0.45)."""
    folder = tr.ROOT / "models" / "hifigan-flite-v1-quarter"
    spec, config, generator = quality.load_generator(str(folder))
    assert sum(f.stat().st_size for f in folder.iterdir()) < 10 * 1024 * 1024
    mel_cfg = spec.mel_settings(config)
    for name in quality.EXAMPLES:
        samples, rate = quality.read_wav(tr.ROOT / "examples" / name)
        assert rate == mel_cfg["sample_rate"]
        mel = quality.amphion_mel(samples, mel_cfg)
        with torch.no_grad():
            audio = spec.reference_audio(generator, config, (mel[None],)).reshape(-1).numpy()
        assert quality.log_mel_l1(samples, audio, mel_cfg) <= 0.45, name


def _copy_synthesis_of_held_out_sentences(name: str, capsys, *flags: str) -> dict:
    """quality vocoder's mean scores of models/<name> and Griffin-Lim on 8 test sentences (two
    per voice, never trained on, never used to pick a checkpoint)."""
    folder = tr.ROOT / "models" / name
    assert quality.main(["vocoder", "--checkpoint", str(folder), "--sentences", "8",
                         "--json", *flags]) == 0
    mean = json.loads(capsys.readouterr().out)["mean"]
    assert mean["model"]["sentences"] == 8
    return mean


def test_the_flite_tuned_v1_beats_griffin_lim_on_held_out_sentences(capsys):
    """models/hifigan-flite-v1 as setup merges it beats Griffin-Lim on PESQ, the bar the
    default vocoder is held to."""
    mean = _copy_synthesis_of_held_out_sentences("hifigan-flite-v1", capsys)
    assert mean["model"]["pesq"] > mean["griffin_lim"]["pesq"], mean


def test_the_default_vocoder_beats_griffin_lim_on_held_out_sentences(capsys):
    """The quarter-width student as the demo exports it (--mel-magnitude: its phase, the mel's
    magnitude) beats Griffin-Lim on PESQ and STOI. On the 60 test sentences it scores 2.88 /
    0.973 against Griffin-Lim's 2.50 / 0.959 (models/README.md)."""
    mean = _copy_synthesis_of_held_out_sentences("hifigan-flite-v1-quarter", capsys,
                                                 "--mel-magnitude")
    assert mean["model"]["pesq"] > mean["griffin_lim"]["pesq"] + 0.2, mean
    assert mean["model"]["stoi"] > mean["griffin_lim"]["stoi"], mean


def test_the_default_generator_alone_keeps_its_measured_quality(capsys):
    """Without --mel-magnitude the student holds what it measured when shipped (PESQ 2.36,
    STOI 0.953 on these sentences), below Griffin-Lim."""
    mean = _copy_synthesis_of_held_out_sentences("hifigan-flite-v1-quarter", capsys)
    assert mean["model"]["pesq"] >= 2.25 and mean["model"]["stoi"] >= 0.945, mean


def test_the_committed_models_stay_within_the_repositorys_budget():
    """Model files in git: at most 30 MB together (what setup makes from registry packages, such
    as the pretrained V1 and its merge with the flite adapter, is git-ignored)."""
    listed = subprocess.run(["git", "ls-files", "models"], cwd=tr.ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    assert "models/hifigan-flite-v1/adapter.bin" in listed
    assert (tr.ROOT / "models/hifigan-flite-v1/adapter.bin").stat().st_size < 3 * 1024 * 1024
    assert not [name for name in listed if name.startswith("models/hifigan-flite-v1/")
                and name.endswith(".pt")]
    assert sum((tr.ROOT / name).stat().st_size for name in listed) <= 30_000_000
