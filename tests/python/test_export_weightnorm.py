"""Folding weight norm (legacy hooks and parametrizations) leaves the function unchanged."""

from __future__ import annotations

import torch
from conftest import amphion_generator_state
from torch import nn
from torch.nn.utils import parametrize

from amphora_export.vocoders import FAMILIES
from amphora_export.weightnorm import count_weight_norm, fold_weight_norm


def test_folding_every_family_matches_the_unfolded_generator():
    for name, spec in FAMILIES.items():
        config = spec.default_config()
        state = amphion_generator_state(name, config, seed=5)
        unfolded, folded = spec.build(config).eval(), spec.build(config).eval()
        unfolded.load_state_dict(state)
        folded.load_state_dict(state)
        before = count_weight_norm(folded)
        assert before == sum(k.endswith(".weight_g") for k in state), name
        assert fold_weight_norm(folded) == before, name
        assert count_weight_norm(folded) == 0
        assert not any(k.endswith(("weight_g", "weight_v")) for k in folded.state_dict()), name
        inputs = spec.example_inputs(config, 23, torch.Generator().manual_seed(1))
        with torch.no_grad():
            want = spec.export_module(unfolded, config)(*inputs)
            got = spec.export_module(folded, config)(*inputs)
        for w, g in zip(want, got):
            assert float((w - g).abs().max()) <= 1e-5, name


class _WeightNorm(nn.Module):
    """weight = g * v / ||v|| as a parametrization (what torch >= 2.1 weight_norm registers)."""

    def forward(self, g, v):
        return g * v / v.norm(dim=(1, 2), keepdim=True)

    def right_inverse(self, weight):
        return weight.norm(dim=(1, 2), keepdim=True), weight


def test_folding_parametrized_weight_norm():
    torch.manual_seed(0)
    conv = nn.Conv1d(4, 6, 3)
    parametrize.register_parametrization(conv, "weight", _WeightNorm(), unsafe=True)
    with torch.no_grad():
        conv.parametrizations.weight.original0.mul_(1.7)  # g away from ||v||
    model = nn.Sequential(conv, nn.Tanh())
    x = torch.randn(2, 4, 11)
    want = model(x).detach()
    assert fold_weight_norm(model) == 1
    assert not parametrize.is_parametrized(conv)
    assert isinstance(conv.weight, nn.Parameter)
    assert torch.allclose(model(x), want, atol=1e-6)
