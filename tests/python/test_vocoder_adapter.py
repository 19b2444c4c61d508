"""The low-rank adapter (amphora_export.vocoder_adapter): attached, it starts as the identity and
trains only what it should; merged into the base's layout it gives exactly the attached
generator's output; its release folder is made from the base it was trained on, and no other."""

from __future__ import annotations

import json

import pytest
import torch

from amphora_export import quality
from amphora_export import vocoder_adapter as va
from amphora_export.errors import ExportError
from amphora_export.vocoders.hifigan import HiFiGAN, default_config


def tiny_generator(seed: int = 0) -> HiFiGAN:
    torch.manual_seed(seed)
    return HiFiGAN(default_config()).eval()


def mel(frames: int = 12) -> torch.Tensor:
    return torch.randn(1, default_config()["preprocess"]["n_mel"], frames,
                       generator=torch.Generator().manual_seed(9))


def perturbed(generator: HiFiGAN, rank: int = 2) -> HiFiGAN:
    """attached, with every trained tensor moved off its start."""
    trained = va.attach(generator, rank)
    with torch.no_grad():
        for p in trained:
            p.add_(0.05 * torch.randn_like(p))
    return generator


def test_attached_it_starts_as_the_base_and_trains_only_adapters_gains_and_biases():
    base = tiny_generator()
    expected = base(mel()).detach()
    generator = tiny_generator()
    trained = va.attach(generator, rank=3)
    assert torch.equal(generator(mel()), expected)
    names = {name.rsplit(".", 1)[-1] for name, p in generator.named_parameters()
             if p.requires_grad}
    assert names == {"adapter_a", "adapter_b", "weight_g", "bias"}
    assert len(trained) == sum(p.requires_grad for p in generator.parameters())
    frozen = {name for name, p in generator.named_parameters() if not p.requires_grad}
    assert not frozen  # weight_v became the frozen buffer weight_v_base
    assert all(name.endswith("weight_v_base") for name, _ in generator.named_buffers())


def test_merged_into_the_base_layout_it_gives_the_attached_generators_output():
    generator = perturbed(tiny_generator())
    with torch.no_grad():
        attached = generator(mel())
    merged = va.merge(tiny_generator().state_dict(), va.adapter_state(generator))
    plain = tiny_generator(seed=5)  # other weights, all replaced by the merge
    plain.load_state_dict(merged)  # strict: the base's layout
    with torch.no_grad():
        assert torch.allclose(plain(mel()), attached, atol=1e-6)
        assert not torch.allclose(attached, tiny_generator()(mel()), atol=1e-3)


def test_merge_names_what_the_base_lacks_or_has_in_another_shape():
    base = tiny_generator().state_dict()
    with pytest.raises(KeyError, match="conv_nowhere.weight_v"):
        va.merge(base, {"conv_nowhere.weight_v_b": torch.zeros(1, 1)})
    with pytest.raises(KeyError, match="B but no A for conv_pre.weight_v"):
        va.merge(base, {"conv_pre.weight_v_b": torch.zeros(1, 1)})
    rows = base["conv_pre.weight_v"].shape[0]
    with pytest.raises(ValueError, match="conv_pre.weight_v: the adapter's factors"):
        va.merge(base, {"conv_pre.weight_v_b": torch.zeros(rows, 2),
                        "conv_pre.weight_v_a": torch.zeros(2, 5)})
    with pytest.raises(ValueError, match="conv_pre.bias: the adapter's shape"):
        va.merge(base, {"conv_pre.bias": torch.zeros(3)})
    with pytest.raises(ValueError, match="rank must be at least 1"):
        va.attach(tiny_generator(), 0)


def release(folder, generator: HiFiGAN, step: int):
    folder.mkdir()
    (folder / "args.json").write_text(json.dumps(default_config()))
    torch.save({"generator_state_dict": generator.state_dict(), "step": step},
               folder / f"{step}.pt")
    return folder


def test_its_release_is_made_from_the_base_it_was_trained_on_and_no_other(tmp_path):
    base = release(tmp_path / "base", tiny_generator(), 100)
    generator = perturbed(tiny_generator())
    folder = tmp_path / "adapted"
    folder.mkdir()
    va.save(folder, generator, 7, base)
    weights = va.make_release(base, folder)
    assert weights == folder / "7.pt"
    _, _, loaded = quality.load_generator(str(folder))
    with torch.no_grad():
        assert torch.allclose(loaded(mel()), generator(mel()), atol=2e-3)  # float16 adapter
    made = weights.stat().st_mtime_ns
    assert va.make_release(base, folder) == weights and weights.stat().st_mtime_ns == made

    other = release(tmp_path / "other", tiny_generator(seed=1), 100)
    weights.unlink()
    with pytest.raises(ExportError, match="trained on another base"):
        va.make_release(other, folder)
    assert not weights.exists()
    with pytest.raises(ExportError, match="expected an Amphion release folder"):
        va.make_release(tmp_path / "adapted-nothing", folder)
    assert va.main(["merge", str(folder), "--base", str(base)]) == 0 and weights.exists()
