"""Trains amphora's small polyphone BERT for the Chinese G2P, with the input/output contract of
the `poly_bert_model.onnx` in Amphion's MaskGCT G2P, and writes its model folder.

    python -m amphora_export.train_g2p models/g2p-zh-polybert-small [--steps 3000]
    python -m amphora_export.train_g2p models/g2p-zh-polybert-small --lexicon-only  # setup's

The folder must already hold Amphion's label files (vocab.txt, polychar.txt, polydict.json,
polydict_r.json, pinyin_2_bpmf.txt); the trainer adds poly_bert_model.onnx, config.json,
chinese_lexicon.txt and figures.json. The lexicon is made from pypinyin alone, the same for the
same pypinyin: setup writes it (--lexicon-only), so git does not carry its 1.6 MB.

Labels come from pypinyin's phrase dictionary (MIT): every phrase holding a character of
polychar.txt gives that character's reading in context. A tenth of the phrases is held out and
never trained on; figures.json reports the accuracy there next to the baseline of always
choosing each character's most frequent reading in the training phrases.

The model, for an input_ids int32 [1, 1 + n] ([CLS] then one vocab.txt id per character) gives
outputs float32 [1, n, labels] (the [CLS] position dropped): logits over polydict.json's labels
(label id - 1). Its word embedding keeps rows only for the characters the phrases use, reached
through a remapping table, so that the file stays a few MB for bert-base-chinese's 21128 ids.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from .errors import ExportError
from .train_reference import hardware, learning_rate

PUNCTUATION = list(",.?!;:'…")  # what Amphion's normalisation leaves between words
HELD_OUT = 0.1


def canonical(pinyin: str) -> str:
    """One spelling for ü: pypinyin writes "yue4", "jue2", "lve4"; polydict has "yve4"."""
    base, tone = pinyin[:-1], pinyin[-1]
    if base[:1] in ("j", "q", "x", "y"):
        base = base[0] + base[1:].replace("v", "u")
    return base.replace("lue", "lve").replace("nue", "nve") + tone


def tone3(reading: str) -> str:
    from pypinyin.contrib.tone_convert import to_tone3

    return to_tone3(reading, neutral_tone_with_five=True)


class Labels:
    """polychar.txt and polydict_r.json: which characters are polyphones and their readings."""

    def __init__(self, folder: Path):
        self.chars = [line.strip() for line in (folder / "polychar.txt").read_text("utf-8")
                      .splitlines() if line.strip()]
        names = json.loads((folder / "polydict_r.json").read_text("utf-8"))
        self.count = len(names)
        self.index = {}  # (char, canonical pinyin) -> class (label id - 1)
        self.of_char: dict[str, list[int]] = {}
        for name, label in names.items():
            char, pinyin = name[0], name[2:-1]
            self.index[(char, canonical(pinyin))] = label - 1
            self.of_char.setdefault(char, []).append(label - 1)

    def label(self, char: str, reading: str):
        return self.index.get((char, canonical(tone3(reading))))


def phrase_examples(labels: Labels) -> list[tuple[str, list[tuple[int, int]]]]:
    """(phrase, [(position, class)]) for each pypinyin phrase holding a labelled polyphone."""
    from pypinyin.phrases_dict import phrases_dict

    poly = set(labels.chars)
    examples = []
    for phrase, readings in sorted(phrases_dict.items()):
        if len(phrase) != len(readings):
            continue
        targets = [(i, labels.label(c, readings[i][0])) for i, c in enumerate(phrase) if c in poly]
        targets = [(i, y) for i, y in targets if y is not None]
        if targets:
            examples.append((phrase, targets))
    return examples


def load_vocab(folder: Path) -> dict[str, int]:
    """vocab.txt as transformers reads it: one token a line, its line number its id."""
    lines = (folder / "vocab.txt").read_text("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the last line's newline ends it, it does not start a token
    return {token: index for index, token in enumerate(lines)}


class PolyBert(torch.nn.Module):
    """A small BERT encoder and a per-character classifier."""

    def __init__(self, remap: torch.Tensor, rows: int, labels: int, dim: int, layers: int,
                 heads: int, dropout: float, max_len: int = 512):
        super().__init__()
        self.heads = heads
        self.register_buffer("remap", remap)  # vocab id -> embedding row (0: unknown)
        self.word = torch.nn.Embedding(rows, dim)
        self.position = torch.nn.Embedding(max_len, dim)
        self.embed_norm = torch.nn.LayerNorm(dim, eps=1e-12)
        self.layers = torch.nn.ModuleList(torch.nn.ModuleDict({
            "qkv": torch.nn.Linear(dim, 3 * dim), "out": torch.nn.Linear(dim, dim),
            "norm1": torch.nn.LayerNorm(dim, eps=1e-12), "ff1": torch.nn.Linear(dim, 4 * dim),
            "ff2": torch.nn.Linear(4 * dim, dim), "norm2": torch.nn.LayerNorm(dim, eps=1e-12)})
            for _ in range(layers))
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(dim, labels)

    def forward(self, input_ids: torch.Tensor, padding: torch.Tensor | None = None):
        b, t = input_ids.shape
        rows = self.remap[input_ids.long()].long()
        x = self.word(rows) + self.position.weight[:t].unsqueeze(0)
        x = self.dropout(self.embed_norm(x))
        bias = None if padding is None else padding[:, None, None, :].float() * -10000.0
        for layer in self.layers:
            q, k, v = layer["qkv"](x).split(x.shape[-1], dim=-1)
            q, k, v = (y.reshape(b, t, self.heads, -1).transpose(1, 2) for y in (q, k, v))
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if bias is not None:
                scores = scores + bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1)
            x = layer["norm1"](x + self.dropout(layer["out"](context)))
            hidden = torch.nn.functional.gelu(layer["ff1"](x))
            x = layer["norm2"](x + self.dropout(layer["ff2"](hidden)))
        return self.classifier(x[:, 1:])  # no reading for [CLS]


def char_ids(text: str, vocab: dict[str, int]) -> list[int]:
    """[CLS] then one id per character, as Amphion's G2P feeds its BERT."""
    return [vocab["[CLS]"]] + [vocab.get(c, vocab["[UNK]"]) for c in text]


def make_batch(rng: random.Random, train, vocab, size: int, unk_rate: float = 0.15):
    """Each sample: one to three training phrases, sometimes with punctuation between; a few
    context characters become [UNK] so that the unknown row learns to be context."""
    samples = []
    for _ in range(size):
        text, targets = "", []
        for _ in range(rng.choice((1, 1, 2, 3))):
            if text and rng.random() < 0.3:
                text += rng.choice(PUNCTUATION)
            phrase, labels = rng.choice(train)
            targets += [(len(text) + i, y) for i, y in labels]
            text += phrase
        ids = char_ids(text, vocab)
        labelled = {i + 1 for i, _ in targets}
        ids = [vocab["[UNK]"] if i > 0 and i not in labelled and rng.random() < unk_rate else t
               for i, t in enumerate(ids)]
        samples.append((ids, targets))
    width = max(len(ids) for ids, _ in samples)
    input_ids = torch.zeros(size, width, dtype=torch.int32)
    padding = torch.ones(size, width, dtype=torch.bool)
    target = torch.full((size, width - 1), -100, dtype=torch.long)
    for row, (ids, targets) in enumerate(samples):
        input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.int32)
        padding[row, :len(ids)] = False
        for position, label in targets:
            target[row, position] = label
    return input_ids, padding, target


def restricted_argmax(logits: np.ndarray, char: str, labels: Labels) -> int:
    """The best of the character's own readings (what amphora's ChineseG2P picks)."""
    own = labels.of_char[char]
    return own[int(np.argmax(logits[own]))]


def evaluate(predict, examples, labels: Labels, vocab) -> dict:
    right = total = 0
    for phrase, targets in examples:
        logits = predict(np.array([char_ids(phrase, vocab)], dtype=np.int32))[0]
        for position, label in targets:
            right += restricted_argmax(logits[position], phrase[position], labels) == label
            total += 1
    return {"accuracy": right / max(1, total), "labels": total, "phrases": len(examples)}


def baseline(train, held_out, labels: Labels) -> dict:
    """Each character's most frequent reading in the training phrases, whatever the context."""
    counts: dict[str, Counter] = {}
    for phrase, targets in train:
        for position, label in targets:
            counts.setdefault(phrase[position], Counter())[label] += 1
    right = total = 0
    for phrase, targets in held_out:
        for position, label in targets:
            seen = counts.get(phrase[position])
            guess = seen.most_common(1)[0][0] if seen else labels.of_char[phrase[position]][0]
            right += guess == label
            total += 1
    return {"accuracy": right / max(1, total), "labels": total}


def write_lexicon(folder: Path) -> int:
    """chinese_lexicon.txt as Amphion's G2P reads it ("word<TAB>pin1 yin1"): pypinyin's phrases
    and each character's first reading, in readings pinyin_2_bpmf.txt can spell."""
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    spellable = {line.split("\t")[0] for line in
                 (folder / "pinyin_2_bpmf.txt").read_text("utf-8").splitlines() if line}
    lines = []
    for cp, readings in sorted(pinyin_dict.items()):
        pinyin = tone3(readings.split(",")[0])
        if pinyin[:-1] in spellable:
            lines.append(f"{chr(cp)}\t{pinyin}")
    for phrase, readings in sorted(phrases_dict.items()):
        pinyins = [tone3(r[0]) for r in readings]
        if len(phrase) == len(pinyins) and all(p[:-1] in spellable for p in pinyins):
            lines.append(f"{phrase}\t{' '.join(pinyins)}")
    partial = folder / "chinese_lexicon.txt.partial"  # an interrupted setup leaves no half file
    partial.write_text("\n".join(lines) + "\n", encoding="utf-8")
    partial.replace(folder / "chinese_lexicon.txt")
    return len(lines)


def export(model: PolyBert, path: Path) -> None:
    model.eval()
    example = torch.tensor([[101, 1, 2, 3, 4]], dtype=torch.int32)
    torch.onnx.export(model, (example,), str(path), input_names=["input_ids"],
                      output_names=["outputs"], opset_version=17,
                      dynamic_axes={"input_ids": {1: "length"}, "outputs": {1: "chars"}})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amphora_export.train_g2p",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="the model folder (with Amphion's label files)")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--lexicon-only", action="store_true",
                        help="only write chinese_lexicon.txt from pypinyin (what setup runs)")
    args = parser.parse_args(argv)
    needed = ["pinyin_2_bpmf.txt"]  # the lexicon keeps the readings it can spell
    if not args.lexicon_only:
        needed += ["vocab.txt", "polychar.txt", "polydict_r.json"]
    for name in needed:
        if not (args.folder / name).is_file():
            raise ExportError(f"{args.folder / name} is missing: the folder needs Amphion's "
                              "label files first")
    if args.lexicon_only:
        print(f"{write_lexicon(args.folder)} entries in {args.folder / 'chinese_lexicon.txt'}")
        return 0
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    labels, vocab = Labels(args.folder), load_vocab(args.folder)

    examples = phrase_examples(labels)
    rng.shuffle(examples)
    cut = int(len(examples) * HELD_OUT)
    held_out, train = examples[:cut], examples[cut:]
    print(f"{len(train)} training phrases, {len(held_out)} held out", flush=True)

    used = {vocab["[CLS]"], vocab["[PAD]"]} | {vocab[p] for p in PUNCTUATION if p in vocab}
    used |= {vocab[c] for phrase, _ in train for c in phrase if c in vocab}
    remap = torch.zeros(max(vocab.values()) + 1, dtype=torch.int32)  # row 0: unknown
    for row, token in enumerate(sorted(used), start=1):
        remap[token] = row
    model = PolyBert(remap, len(used) + 1, labels.count, args.dim, args.layers, args.heads,
                     args.dropout)
    optimiser = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    started = time.time()
    for step in range(args.steps):
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, args.steps, args.lr)
        input_ids, padding, target = make_batch(rng, train, vocab, args.batch_size)
        logits = model(input_ids, padding)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, labels.count),
                                                 target.reshape(-1), ignore_index=-100)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 500 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f} ({time.time() - started:.0f} s)",
                  flush=True)

    model.eval()
    with torch.no_grad():
        torch_predict = lambda ids: model(torch.from_numpy(ids)).numpy()  # noqa: E731
        held = evaluate(torch_predict, held_out, labels, vocab)
        seen = evaluate(torch_predict, train[:2000], labels, vocab)
    onnx_path = args.folder / "poly_bert_model.onnx"
    export(model, onnx_path)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_held = evaluate(lambda ids: session.run(["outputs"], {"input_ids": ids})[0],
                         held_out, labels, vocab)
    figures = {
        "held_out": held, "held_out_onnxruntime": onnx_held["accuracy"],
        "most_frequent_reading_baseline": baseline(train, held_out, labels),
        "training_phrases_accuracy": seen["accuracy"], "training_phrases": len(train),
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
        "dropout": args.dropout, "seed": args.seed,
        "minutes": round((time.time() - started) / 60, 1), "hardware": hardware(),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    config = {"architectures": ["BertPoly"], "model_type": "bert", "hidden_act": "gelu",
              "hidden_size": args.dim, "num_hidden_layers": args.layers,
              "num_attention_heads": args.heads, "intermediate_size": 4 * args.dim,
              "max_position_embeddings": 512, "layer_norm_eps": 1e-12,
              "vocab_size": len(remap), "embedding_rows": len(used) + 1,
              "num_labels": labels.count, "type_vocab_size": 0}
    (args.folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    figures["lexicon_entries"] = write_lexicon(args.folder)
    (args.folder / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
