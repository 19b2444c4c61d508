"""amphora's Chinese G2P against Amphion's own Python (models/tts/maskgct/g2p/g2p/mandarin.py)
on the same model folder: the same phone string for every sentence. Runs only with
AMPHION_ROOT set to a checkout of Amphion, and jieba and cn2an installed. Amphion's jieba
segmentation is replaced by amphora's longest dictionary match (the one documented difference),
so that every other step is compared."""
import importlib
import os
import pathlib
import random
import shutil
import subprocess
import sys

import pytest

from e2e_util import ROOT, amphora_bin

MODEL = ROOT / "models" / "g2p-zh-polybert-small"
AMPHION = os.environ.get("AMPHION_ROOT")
pytestmark = pytest.mark.skipif(not AMPHION, reason="AMPHION_ROOT (an Amphion checkout) not set")
G2P = pathlib.Path("models/tts/maskgct/g2p")


def amphion_mandarin(tmp_path, monkeypatch):
    """Amphion's mandarin module, reading its files (relative to the working directory) from a
    tree built of Amphion's code and this model folder."""
    jieba = pytest.importorskip("jieba")
    pytest.importorskip("cn2an")
    pytest.importorskip("onnxruntime")
    tree = tmp_path / G2P
    for name in ("g2p/mandarin.py", "g2p/chinese_model_g2p.py", "utils/front_utils.py",
                 "sources/bpmf_2_pinyin.txt"):
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(pathlib.Path(AMPHION) / G2P / name, tree / name)
    for package in ("models", "models/tts", "models/tts/maskgct", str(G2P), f"{G2P}/g2p",
                    f"{G2P}/utils"):
        (tmp_path / package / "__init__.py").touch()
    shutil.copytree(MODEL, tree / "sources" / "g2p_chinese_model")
    for name in ("chinese_lexicon.txt", "pinyin_2_bpmf.txt"):
        shutil.copy(MODEL / name, tree / "sources" / name)

    lexicon = {line.split("\t")[0] for line in
               (MODEL / "chinese_lexicon.txt").read_text("utf-8").splitlines()}
    longest = max(map(len, lexicon))

    def longest_match(text, cut_all=False):
        words, i = [], 0
        while i < len(text):
            n = min(longest, len(text) - i)
            while n > 1 and text[i:i + n] not in lexicon:
                n -= 1
            words.append(text[i:i + n])
            i += n
        return words

    monkeypatch.setattr(jieba, "lcut", longest_match)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        monkeypatch.delitem(sys.modules, name)
    return importlib.import_module("models.tts.maskgct.g2p.g2p.mandarin")


def sentences(count):
    from pypinyin.phrases_dict import phrases_dict

    phrases = sorted(phrases_dict)
    poly = (MODEL / "polychar.txt").read_text("utf-8").split()
    chars = sorted({c for p in phrases for c in p})
    rng = random.Random(0)
    lines = []
    for _ in range(count):
        line = ""
        for _ in range(rng.randint(1, 10)):
            r = rng.random()
            line += (rng.choice(phrases) if r < 0.5 else rng.choice(poly) if r < 0.75
                     else rng.choice(chars) if r < 0.95 else str(rng.randint(0, 10**6)))
            if rng.random() < 0.15:
                line += rng.choice("，。！？、；：")
        # Amphion drops a 不 that ends a line (and shifts its BERT's positions): documented.
        lines.append(line + "。" if line.endswith("不") else line)
    return lines


def test_same_phones_as_amphions_python(tmp_path, monkeypatch):
    mandarin = amphion_mandarin(tmp_path, monkeypatch)
    lines = sentences(500)
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([str(amphora_bin()), "g2p", "--model", str(MODEL), "--text-file",
                           str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    ours = proc.stdout.split("\n")
    differ = [(line, mandarin._chinese_to_ipa(line, line), ours[i])
              for i, line in enumerate(lines) if mandarin._chinese_to_ipa(line, line) != ours[i]]
    assert not differ, "\n".join(f"{a}\n  Amphion: {b}\n  amphora: {c}" for a, b, c in differ[:5])
