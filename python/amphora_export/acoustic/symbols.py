"""Which phone id means which symbol, and which speaker id means whom, for the manifest.

A runtime turns text into phone ids; it can only do that with the table the model was trained
with. Amphion has two: with phone_extractor "lexicon" the ids index its fixed symbol list
(text/symbols.py: pad, "-", punctuation, letters, "@"-prefixed ARPAbet, silences); with the
other extractors (espeak, pypinyin, ...) the experiment folder holds symbols.dict and
TextTokenCollator numbers "<pad>", "<bos>", "<eos>" and then the sorted symbols. Speakers come
from spk2id.json in the experiment folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..melspec import cfg_get, preprocess

_ARPABET = (
    "AA AA0 AA1 AA2 AE AE0 AE1 AE2 AH AH0 AH1 AH2 AO AO0 AO1 AO2 AW AW0 AW1 AW2 AY AY0 AY1 AY2 "
    "B CH D DH EH EH0 EH1 EH2 ER ER0 ER1 ER2 EY EY0 EY1 EY2 F G HH IH IH0 IH1 IH2 IY IY0 IY1 "
    "IY2 JH K L M N NG OW OW0 OW1 OW2 OY OY0 OY1 OY2 P R S SH T TH UH UH0 UH1 UH2 UW UW0 UW1 "
    "UW2 V W Y Z ZH").split()

# Amphion's text/symbols.py order (the pinyin block is commented out there, and here).
LEXICON_SYMBOLS = (["_", "-"] + list("!'(),.:;? ")
                   + list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
                   + ["@" + s for s in _ARPABET] + ["@sp", "@spn", "@sil"])


def _near(config_path: Path | None, name: str) -> Path | None:
    if config_path is None:
        return None
    candidate = config_path.parent / name
    return candidate if candidate.is_file() else None


def _collator_table(text: str) -> list:
    """ids as Amphion's TextTokenCollator assigns them from a symbols.dict (SymbolTable format:
    "symbol id" per line; id 0 is the table's epsilon, "<eps>" unless the file names one)."""
    symbols = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ValueError(f"symbols.dict line {line!r} does not hold 'symbol id'")
        symbols[fields[0]] = int(fields[1])
    if 0 not in symbols.values():
        symbols["<eps>"] = 0
    ordered = ["<pad>", "<bos>", "<eos>"] + sorted(symbols)
    ids = {token: index for index, token in enumerate(ordered)}  # a later duplicate wins
    table = [None] * len(ordered)
    for token, index in ids.items():
        table[index] = token
    return table


def phone_table(cfg: dict, config_path: Path | None, embedding_rows: int) -> dict:
    """The manifest's "phones" entry: count (embedding rows), the id -> symbol list if known."""
    extractor = str(cfg_get(preprocess(cfg), "phone_extractor", "lexicon"))
    entry = {"count": embedding_rows, "padding_id": 0, "extractor": extractor,
             "symbols": None, "source": None}
    if extractor == "lexicon":
        if embedding_rows == len(LEXICON_SYMBOLS) + 1:
            entry.update(symbols=list(LEXICON_SYMBOLS), source="amphion text/symbols.py")
        return entry
    name = str(cfg_get(preprocess(cfg), "symbols_dict", "symbols.dict"))
    path = _near(config_path, name)
    if path is not None:
        entry.update(symbols=_collator_table(path.read_text(encoding="utf-8")), source=name)
    return entry


def read_speakers(cfg: dict, config_path: Path | None) -> dict | None:
    """spk2id.json beside the config ({name: id}), or None when there is none."""
    name = str(cfg_get(preprocess(cfg), "spk2id", "spk2id.json"))
    path = _near(config_path, name)
    if path is None:
        return None
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(table, dict) or not all(isinstance(v, int) for v in table.values()):
        raise ValueError(f"{path} must map speaker names to integer ids")
    return table


def speaker_names(cfg: dict, config_path: Path | None) -> list | None:
    """The manifest's speaker "names": spk2id.json as a list indexed by speaker id (an id the
    table skips is named ""), or None when there is no table."""
    table = read_speakers(cfg, config_path)
    if not table:
        return None
    names = [""] * (max(table.values()) + 1)
    for name, index in table.items():
        if index < 0:
            raise ValueError(f"spk2id.json gives {name!r} the negative id {index}")
        names[index] = name
    return names
