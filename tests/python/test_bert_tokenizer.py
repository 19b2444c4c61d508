"""amphora's C++ BERT tokenizer (`amphora g2p --wordpiece`) gives transformers.BertTokenizer's
tokens, token for token, on thousands of generated sentences: Chinese phrases from pypinyin's
dictionary, rare and supplementary-plane ideographs, Latin words (cased, accented), digits,
full-width letters and punctuation, ASCII punctuation, odd spaces and controls, kana, Hangul,
emoji, special tokens and over-long words."""
import json
import random
import subprocess
import unicodedata

import pytest

from e2e_util import ROOT, amphora_bin

MODEL = ROOT / "models" / "g2p-zh-polybert-small"
SENTENCES = 4000

LATIN_WORDS = ["the", "Hello", "WORLD", "BERT", "unaffable", "running", "iPhone", "McDonald's",
               "naïve", "café", "Ångström", "Straße", "résumé", "Über", "ÇA", "Æsop", "İstanbul",
               "x", "Q", "ok", "GPU", "mp3", "H2O", "COVID-19", "e-mail", "AI", "tts"]
ASCII_PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
FULLWIDTH = list("，。！？；：、“”‘’（）【】《》〈〉「」『』…—～·－／＼＠＃％＆＊＋＝｜")
FULLWIDTH_ALNUM = list("ＡＢＣＸｙｚ０１２３９")
SPACES = [" ", " ", " ", "  ", "\t", "\u3000", "\u00a0", "\u2009"]
ODD = ["\x07", "\u200b", "\ufeff", "\u00ad", "😀", "🎉", "©", "®", "™", "°", "€", "¥", "½", "²",
       "ひらがな", "カタカナ", "한국어", "안녕하세요", "Привет", "мир", "ﬁ", "Ⅻ", "①", "㎏",
       "\U00020000", "\U0002a6d6", "豈", "更", "[CLS]", "[SEP]", "[MASK]", "[UNK]", "[cls]",
       "\u0301", "ü", "ñ"]


def chinese_pools():
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    return sorted(phrases_dict), [chr(cp) for cp in sorted(pinyin_dict)]


def sentence(rng, phrases, chars):
    parts = []
    for _ in range(rng.randint(1, 14)):
        kind = rng.random()
        if kind < 0.35:
            parts.append(rng.choice(phrases))
        elif kind < 0.45:
            parts.append("".join(rng.choice(chars) for _ in range(rng.randint(1, 3))))
        elif kind < 0.60:
            parts.append(rng.choice(LATIN_WORDS))
        elif kind < 0.68:
            parts.append(str(rng.choice([rng.randint(0, 99), rng.randint(0, 10**6),
                                         round(rng.random() * 100, 2)])))
        elif kind < 0.78:
            parts.append(rng.choice(FULLWIDTH))
        elif kind < 0.83:
            parts.append(rng.choice(FULLWIDTH_ALNUM))
        elif kind < 0.88:
            parts.append(rng.choice(ASCII_PUNCT))
        elif kind < 0.96:
            parts.append(rng.choice(ODD))
        else:  # a word past WordPiece's 100-character limit, or just under it
            parts.append("a" * rng.choice([99, 100, 101, 150]))
        if rng.random() < 0.4:
            parts.append(rng.choice(SPACES))
    # The C++ tokenizer does not compose (NFC) first: the sentences are NFC already.
    return unicodedata.normalize("NFC", "".join(parts))


def test_wordpiece_matches_transformers(tmp_path):
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("pypinyin")
    reference = transformers.BertTokenizer(str(MODEL / "vocab.txt"), do_lower_case=True)
    phrases, chars = chinese_pools()
    rng = random.Random(0)
    sentences = [sentence(rng, phrases, chars) for _ in range(SENTENCES)]
    sentences += ["", " ", "中文", "ＡＢＣ", "a" * 101]
    path = tmp_path / "sentences.txt"
    path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    proc = subprocess.run([str(amphora_bin()), "g2p", "--model", str(MODEL), "--wordpiece",
                           "--text-file", str(path)], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()
    ours = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]
    assert len(ours) == len(sentences)
    mismatched = [(s, ours[i], reference.tokenize(s)) for i, s in enumerate(sentences)
                  if ours[i] != reference.tokenize(s)]
    tokens = sum(len(t) for t in ours)
    print(f"{len(sentences) - len(mismatched)}/{len(sentences)} sentences, {tokens} tokens match")
    assert not mismatched, "\n".join(f"{s!r}\n  amphora: {a}\n  transformers: {b}"
                                     for s, a, b in mismatched[:5])
    # The corpus did reach the cases it is there for.
    flat = {t for line in ours for t in line}
    assert {"[UNK]", "[CLS]", "，", "##s"} <= flat
