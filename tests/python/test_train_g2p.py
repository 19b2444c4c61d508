"""The G2P trainer end to end on a few steps: labels from pypinyin, a held-out split, the
baseline, an ONNX export that ONNX Runtime and amphora agree on, and the model folder."""
import hashlib
import json
import shutil
import subprocess

import numpy as np
import pytest

from e2e_util import ROOT, amphora_bin

SHIPPED = ROOT / "models" / "g2p-zh-polybert-small"
LABEL_FILES = ["vocab.txt", "polychar.txt", "polydict.json", "polydict_r.json", "pinyin_2_bpmf.txt"]


def test_trainer_writes_a_folder_amphora_reads(tmp_path):
    pytest.importorskip("pypinyin")
    from amphora_export import train_g2p

    for name in LABEL_FILES:
        shutil.copy(SHIPPED / name, tmp_path / name)
    assert train_g2p.main([str(tmp_path), "--steps", "3", "--dim", "32", "--layers", "1",
                           "--heads", "2", "--threads", "1"]) == 0
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["held_out"]["phrases"] > 1000
    assert figures["held_out"]["accuracy"] == figures["held_out_onnxruntime"]
    assert 0.5 < figures["most_frequent_reading_baseline"]["accuracy"] < 1.0
    lexicon = (tmp_path / "chinese_lexicon.txt").read_text("utf-8").splitlines()
    assert "银行\tyin2 hang2" in lexicon and "中\tzhong1" in lexicon
    # The exported graph runs on amphora with ONNX Runtime's numbers.
    ids = np.array([[101, 6121, 7270, 1920, 749]], np.int32)
    np.save(tmp_path / "ids.npy", ids)
    out = tmp_path / "out"
    proc = subprocess.run([str(amphora_bin()), "run", str(tmp_path / "poly_bert_model.onnx"),
                           "--input", f"input_ids={tmp_path / 'ids.npy'}", "--output-dir",
                           str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    import onnxruntime as ort
    session = ort.InferenceSession(str(tmp_path / "poly_bert_model.onnx"),
                                   providers=["CPUExecutionProvider"])
    expected = session.run(None, {"input_ids": ids})[0]
    ours = np.load(out / "outputs.npy")
    assert ours.shape == expected.shape == (1, 4, 391)
    np.testing.assert_allclose(ours, expected, atol=1e-4)


def test_pinyin_spellings_meet_amphions_labels():
    from amphora_export.train_g2p import canonical

    assert canonical("yue4") == canonical("yve4")
    assert canonical("lue4") == canonical("lve4")
    assert canonical("lv4") != canonical("lu4")  # 绿 and 路 stay apart


def test_setup_writes_the_lexicon_from_pypinyin_alone(tmp_path):
    """--lexicon-only, what setup runs: the lexicon the shipped model was measured with, from
    pinyin_2_bpmf.txt and pypinyin alone; and a clear error without pinyin_2_bpmf.txt."""
    pytest.importorskip("pypinyin")
    from amphora_export import train_g2p
    from amphora_export.errors import ExportError

    with pytest.raises(ExportError, match="pinyin_2_bpmf.txt is missing"):
        train_g2p.main([str(tmp_path), "--lexicon-only"])
    shutil.copy(SHIPPED / "pinyin_2_bpmf.txt", tmp_path)
    assert train_g2p.main([str(tmp_path), "--lexicon-only"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chinese_lexicon.txt",
                                                           "pinyin_2_bpmf.txt"]
    written = (tmp_path / "chinese_lexicon.txt").read_bytes()
    # the lexicon the shipped model was measured with, when git still carried it
    assert hashlib.sha256(written).hexdigest() == (
        "f61674ae294b015cdcdf97259ce981064adbb26eba30432053c90c6c00aaa24d")
    assert "银行\tyin2 hang2\n".encode() in written
