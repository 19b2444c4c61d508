"""vocoder_student: a narrow HiFi-GAN cut out of a wide one. Each layer's ridge fit recovers a
layer it can represent exactly (the transposed conv through its zero-stuffed equivalent), a cut
at the teacher's own width gives back the teacher, and a narrower one loads strictly into its
layout. A student widened computes what it computed, and its added channels learn."""

from __future__ import annotations

import pytest
import torch

from amphora_export import vocoder_student
from amphora_export.vocoders.common import finalize, wn_conv1d, wn_conv_transpose1d
from amphora_export.vocoders.hifigan import HiFiGAN, default_config


def teacher_and_mels(seed=0):
    torch.manual_seed(seed)
    config = default_config()  # resblock "1", 32 initial channels, 20 mels
    return config, finalize(HiFiGAN(config)), torch.randn(4, 20, 24)


@pytest.mark.parametrize("make", [
    lambda: wn_conv1d(6, 5, 7, 1, dilation=3, padding=9),
    lambda: wn_conv_transpose1d(6, 5, 16, 8, padding=4),
    lambda: wn_conv_transpose1d(6, 5, 4, 2, padding=1),
], ids=["dilated conv", "transposed conv 8x", "transposed conv 2x"])
def test_a_layer_is_fitted_back_from_its_own_output(make):
    torch.manual_seed(1)
    known, fitted = finalize(make()), finalize(make())
    x = torch.randn(3, 6, 40)
    with torch.no_grad():
        vocoder_student._fit(fitted, x, known(x), torch.Generator().manual_seed(0))
        # the ridge shrinks the fit a little; a wrong tap order or transpose would be off by O(1)
        assert torch.allclose(fitted.weight, known.weight, atol=1e-2)
        assert torch.allclose(fitted.bias, known.bias, atol=1e-2)
        assert torch.allclose(fitted(x), known(x), atol=1e-2)


def test_a_cut_at_the_teachers_width_gives_the_teacher_back():
    config, teacher, mels = teacher_and_mels()
    student = vocoder_student.cut(teacher, config, mels)
    with torch.no_grad():
        expected, got = teacher(mels), student(mels)
    # the ridge shrinks the fit a little
    assert (got - expected).pow(2).mean() < 1e-2 * expected.pow(2).mean()


def test_a_narrow_cut_has_the_narrow_layout_and_follows_the_teacher():
    config, teacher, mels = teacher_and_mels()
    narrow = vocoder_student.student_config(config, 16)
    student = vocoder_student.cut(teacher, narrow, mels)
    HiFiGAN(narrow).load_state_dict(student.state_dict())  # strict: the layout is the config's
    assert student.conv_pre.weight.shape == (16, 20, 7)
    with torch.no_grad():
        expected, got = teacher(mels), student(mels)
    # half the channels: not the teacher, but far closer to it than silence
    assert (got - expected).pow(2).mean() < 0.5 * expected.pow(2).mean()


def test_only_v1s_residual_block_is_cut():
    config, _, mels = teacher_and_mels()
    config["model"]["hifigan"].update(resblock="2", resblock_dilation_sizes=[[1, 2], [2, 6]])
    with pytest.raises(ValueError, match='resblock "1"'):
        vocoder_student.cut(finalize(HiFiGAN(config)), config, mels)


def test_a_widened_student_computes_the_same_audio_and_its_added_channels_learn():
    config, narrow, mels = teacher_and_mels()  # 32 initial channels: 16 in the first stage
    wide_config = vocoder_student.student_config(config, 64)
    wide = vocoder_student.widen(narrow, wide_config, seed=3)
    HiFiGAN(wide_config).load_state_dict(wide.state_dict())  # strict: the wide layout
    with torch.no_grad():
        assert torch.allclose(wide(mels), narrow(mels), atol=1e-5)
    writes_added = wide.resblocks[0].convs1[0]  # its rows 16.. write the first stage's added
    assert writes_added.weight[16:].abs().max() == 0  # channels: zero, so they start silent
    wide.train()
    wide(mels).pow(2).mean().backward()
    assert writes_added.weight_g.grad[16:].abs().min() > 0  # ... but every one of them learns
