"""A mini-BERT (2 layers, erf-GELU, attention mask) exported at opsets 14 and 17 runs in amphora
with ONNX Runtime's numbers. Covers Gather embeddings, LayerNormalization (17) or its
decomposition (14), batched MatMul, Softmax, Erf and the mask arithmetic."""
import math
import pathlib

import numpy as np
import pytest
import torch

from e2e_util import run_amphora, run_onnxruntime


class MiniBert(torch.nn.Module):
    def __init__(self, vocab=100, dim=32, heads=4, layers=2, max_len=64):
        super().__init__()
        self.heads = heads
        self.word = torch.nn.Embedding(vocab, dim)
        self.position = torch.nn.Embedding(max_len, dim)
        self.token_type = torch.nn.Embedding(2, dim)
        self.embed_norm = torch.nn.LayerNorm(dim, eps=1e-12)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            self.layers.append(torch.nn.ModuleDict({
                "qkv": torch.nn.Linear(dim, 3 * dim), "out": torch.nn.Linear(dim, dim),
                "norm1": torch.nn.LayerNorm(dim, eps=1e-12), "ff1": torch.nn.Linear(dim, 4 * dim),
                "ff2": torch.nn.Linear(4 * dim, dim), "norm2": torch.nn.LayerNorm(dim, eps=1e-12)}))

    def forward(self, input_ids, attention_mask):
        b, t = input_ids.shape
        positions = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.position(positions) + self.token_type(torch.zeros_like(input_ids))
        x = self.embed_norm(x)
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            q, k, v = layer["qkv"](x).split(x.shape[-1], dim=-1)
            split = lambda y: y.reshape(b, t, self.heads, -1).transpose(1, 2)
            q, k, v = split(q), split(k), split(v)
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + bias
            ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, -1)
            x = layer["norm1"](x + layer["out"](ctx))
            ff = layer["ff2"](torch.nn.functional.gelu(layer["ff1"](x)))  # erf-GELU
            x = layer["norm2"](x + ff)
        return x


@pytest.mark.parametrize("opset", [14, 17])
def test_mini_bert_matches_onnxruntime(tmp_path, opset):
    torch.manual_seed(0)
    model = MiniBert().eval()
    ids = torch.randint(0, 100, (2, 12))
    mask = torch.ones(2, 12, dtype=torch.int64)
    mask[1, 8:] = 0
    path = tmp_path / "bert.onnx"
    torch.onnx.export(model, (ids, mask), str(path), opset_version=opset,
                      input_names=["input_ids", "attention_mask"], output_names=["hidden"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                    "attention_mask": {0: "batch", 1: "tokens"}})
    for length in (12, 5):
        inputs = {"input_ids": ids[:, :length].numpy(), "attention_mask": mask[:, :length].numpy()}
        expected = run_onnxruntime(path, inputs)["hidden"]
        got = run_amphora(path, inputs, tmp_path / f"len{length}")["hidden"]
        assert got.shape == expected.shape
        assert np.max(np.abs(got - expected)) <= 1e-4


def test_shipped_polyphone_bert_matches_onnxruntime(tmp_path):
    """The G2P's BERT as shipped (its attention fused into com.amphora Attention by the engine)
    against ONNX Runtime on [CLS] + 0, 20 and 100 characters (no characters: an empty output)."""
    model = pathlib.Path(__file__).resolve().parents[2] / "models" / "g2p-zh-polybert-small" \
        / "poly_bert_model.onnx"
    rng = np.random.default_rng(3)
    for length in (1, 21, 101):
        inputs = {"input_ids": rng.integers(1, 5000, (1, length)).astype(np.int32)}
        expected = run_onnxruntime(model, inputs)
        got = run_amphora(model, inputs, tmp_path / f"len{length}")
        assert set(got) == set(expected)
        for name, want in expected.items():
            np.testing.assert_allclose(got[name], want, rtol=0, atol=1e-4,
                                       err_msg=f"{name} at {length} ids")
