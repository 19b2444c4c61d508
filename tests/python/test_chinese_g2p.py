"""`amphora g2p --lang zh` end to end: the polyphone BERT on amphora's engine reads what ONNX
Runtime reads from the same ONNX file, sentence after sentence, and bad input is refused with a
clear error instead of a crash."""
import json
import random
import shutil
import subprocess

import numpy as np
import pytest

from e2e_util import ROOT, amphora_bin

MODEL = ROOT / "models" / "g2p-zh-polybert-small"


def g2p(*args, text=None):
    command = [str(amphora_bin()), "g2p", "--lang", "zh", *map(str, args)]
    if text is not None:
        command.append(text)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def sentences(count, seed=0):
    """Random strings of polyphones and other characters of pypinyin's phrases, with
    punctuation: few of them form dictionary phrases, so the BERT reads most polyphones."""
    from pypinyin.phrases_dict import phrases_dict

    poly = [c for c in (MODEL / "polychar.txt").read_text("utf-8").split() if c]
    others = sorted({c for phrase in phrases_dict for c in phrase})
    rng = random.Random(seed)
    pick = lambda: rng.choice(poly) if rng.random() < 0.3 else rng.choice(others)  # noqa: E731
    return ["".join(pick() + (rng.choice("，。！") if rng.random() < 0.1 else "")
                    for _ in range(rng.randint(1, 40))) for _ in range(count)]


def test_polyphone_readings_match_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("pypinyin")
    lines = sentences(300)
    path = tmp_path / "text.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = g2p("--model", MODEL, "--json", "--text-file", path)
    assert proc.returncode == 0, proc.stderr
    vocab = {t: i for i, t in enumerate((MODEL / "vocab.txt").read_text("utf-8").split("\n"))}
    labels = json.loads((MODEL / "polydict.json").read_text("utf-8"))
    own = {}
    for key, name in labels.items():
        own.setdefault(name[0], []).append(int(key) - 1)
    session = ort.InferenceSession(str(MODEL / "poly_bert_model.onnx"),
                                   providers=["CPUExecutionProvider"])
    compared = 0
    for line in proc.stdout.splitlines():
        result = json.loads(line)
        text = result["normalized"]
        ids = [vocab["[CLS]"]] + [vocab.get(c, vocab["[UNK]"]) for c in text]
        logits = session.run(None, {"input_ids": np.array([ids], np.int32)})[0][0]
        positions = [i for i, c in enumerate(text) if "\u4e00" <= c <= "\u9fff"]
        assert len(positions) == len(result["readings"])
        for position, reading in zip(positions, result["readings"]):
            if reading["source"] != "polyphone-bert":
                continue
            choices = own[text[position]]
            best = choices[int(np.argmax(logits[position][choices]))]
            assert reading["pinyin"] == labels[str(best + 1)][2:-1], (text, position)
            compared += 1
    assert compared > 1000


def test_phones_look_like_amphions():
    proc = g2p("--model", MODEL, text="你好，世界。")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "n|i↑|x|ɑʊ↓↑|,|s`ɹ↓|tʃ⁼|iɛ↓|."


@pytest.mark.parametrize("text, message", [
    ("", "the text is empty"),
    ("Hello world", "nothing the Mandarin G2P reads"),
])
def test_text_with_nothing_to_read_is_refused(text, message):
    proc = g2p("--model", MODEL, text=text)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "terminate" not in proc.stderr


def test_non_chinese_lines_pass_through_as_empty_lines():
    proc = g2p("--model", MODEL, text="Hello\n你好")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["", "n|i↑|x|ɑʊ↓↑"]
    assert "'H'" in proc.stderr


def test_folder_missing_a_file_is_named(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MODEL, folder)
    (folder / "polydict.json").unlink()
    proc = g2p("--model", folder, text="你好")
    assert proc.returncode == 1
    assert "polydict.json" in proc.stderr
