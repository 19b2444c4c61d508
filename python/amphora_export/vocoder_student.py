"""A narrow HiFi-GAN cut out of a wide one of the same layout, as the start of its training.

A generator trained from scratch on a CPU learns the mel's magnitude in minutes but its phase
only through long adversarial training. A student cut out of a trained teacher (here
hifigan-flite-v1) starts with the teacher's way of making phase instead:

- every stage keeps the teacher's most active channels (each stage's residual stream, and each
  residual block's inner channels), so LeakyReLU, which acts channel by channel, still applies
  to the same signals;
- layer by layer, in the order of the forward pass, each conv is refitted by ridge regression
  to give the teacher's output on the kept channels from the student's own input, so the error
  of the channels dropped upstream is absorbed instead of compounded.

The regression sees `segments` random stretches of training mels; train_reference then trains
the student end to end (`--family v1-student`).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from .vocoders.common import FINAL_LRELU_SLOPE, LRELU_SLOPE, finalize
from .vocoders.hifigan import HiFiGAN

RIDGE = 1e-3        # relative to the mean diagonal of the Gram matrix
MAX_ROWS = 150_000  # time positions sampled per regression


def student_config(teacher_config: dict, initial_channels: int) -> dict:
    config = copy.deepcopy(teacher_config)
    config["model"]["hifigan"]["upsample_initial_channel"] = initial_channels
    return config


def _rms(x: torch.Tensor) -> torch.Tensor:
    """Per channel over batch and time: [B, C, T] -> [C]."""
    return x.pow(2).mean(dim=(0, 2)).sqrt()


def _strongest(score: torch.Tensor, count: int) -> torch.Tensor:
    return torch.sort(torch.topk(score, count).indices).values


def _fit(module, x: torch.Tensor, target: torch.Tensor, generator: torch.Generator) -> None:
    """Sets module (a weight-normed Conv1d or ConvTranspose1d) to the ridge fit of target
    [B, out, T'] from x [B, in, T]. A ConvTranspose1d is fitted as the stride-1 conv over its
    zero-stuffed input with the flipped kernel, which it equals."""
    kernel, padding = module.kernel_size[0], module.padding[0]
    transposed = isinstance(module, torch.nn.ConvTranspose1d)
    if transposed:
        stride = module.stride[0]
        stuffed = x.new_zeros(x.shape[0], x.shape[1], (x.shape[2] - 1) * stride + 1)
        stuffed[:, :, ::stride] = x
        x, dilation, padding = stuffed, 1, kernel - 1 - padding
    else:
        dilation = module.dilation[0]
    x = F.pad(x, (padding, padding))
    batch, length = target.shape[0], target.shape[2]
    rows = torch.randperm(batch * length, generator=generator)[:MAX_ROWS]
    b, t = rows // length, rows % length
    # columns [rows, in * kernel] in the order of a [out, in, kernel] weight
    columns = torch.stack([x[b, :, t + j * dilation] for j in range(kernel)], dim=2)
    a = torch.cat([columns.reshape(len(rows), -1), columns.new_ones(len(rows), 1)], 1).double()
    gram = a.T @ a
    gram += RIDGE * gram.diagonal().mean() * torch.eye(len(gram), dtype=gram.dtype)
    solution = torch.linalg.solve(gram, a.T @ target[b, :, t].double()).float()
    weight = solution[:-1].T.reshape(target.shape[1], -1, kernel)
    if transposed:
        weight = weight.flip(-1).transpose(0, 1).contiguous()
    module.weight_v.copy_(weight)
    module.weight_g.copy_(torch.norm_except_dim(weight, 2, 0))
    module.bias.copy_(solution[-1])
    module.weight = weight.clone()  # what the weight-norm hook would compute from v and g


@torch.no_grad()
def cut(teacher: HiFiGAN, config: dict, mels: torch.Tensor, seed: int = 0) -> HiFiGAN:
    """The student of `config`'s width (resblock "1", the teacher's layout otherwise), fitted
    to `teacher` on `mels` [B, n_mel, frames]."""
    section = config["model"]["hifigan"]
    if str(section["resblock"]) != "1":
        raise ValueError("a student is cut from a resblock \"1\" HiFi-GAN (V1's layout)")
    teacher.eval()
    student = finalize(HiFiGAN(config))
    generator = torch.Generator().manual_seed(seed)
    initial = int(section["upsample_initial_channel"])

    def lrelu(v):
        return F.leaky_relu(v, LRELU_SLOPE)

    t = teacher.conv_pre(mels)
    keep = _strongest(_rms(t) * teacher.ups[0].weight.norm(dim=(1, 2)), initial)
    _fit(student.conv_pre, mels, t[:, keep], generator)
    s = student.conv_pre(mels)
    last = len(teacher.ups) - 1
    for i, up in enumerate(teacher.ups):
        t_in, s_in = lrelu(t), lrelu(s)
        t = up(t_in)
        t_out = sum(block(t) for block in teacher.stage_blocks(i)) / teacher.num_kernels
        width = initial // 2 ** (i + 1)
        if i == last:  # the last stream only feeds conv_post: keep what conv_post weighs
            score = (_rms(F.leaky_relu(t_out, FINAL_LRELU_SLOPE)) *
                     teacher.conv_post.weight.norm(dim=(0, 2)))
        else:
            score = _rms(t_out) + _rms(t)
        keep = _strongest(score, width)
        _fit(student.ups[i], s_in, t[:, keep], generator)
        s = student.ups[i](s_in)
        s_out = 0
        for t_block, s_block in zip(teacher.stage_blocks(i), student.stage_blocks(i)):
            xt, xs = t, s
            for c1t, c2t, c1s, c2s in zip(t_block.convs1, t_block.convs2,
                                          s_block.convs1, s_block.convs2):
                inner_t = c1t(lrelu(xt))
                inner = _strongest(_rms(lrelu(inner_t)) * c2t.weight.norm(dim=(0, 2)), width)
                _fit(c1s, lrelu(xs), inner_t[:, inner], generator)
                inner_s = c1s(lrelu(xs))
                xt = xt + c2t(lrelu(inner_t))
                _fit(c2s, lrelu(inner_s), xt[:, keep] - xs, generator)  # the residual's share
                xs = xs + c2s(lrelu(inner_s))
            s_out = s_out + xs
        t, s = t_out, s_out / student.num_kernels
    _fit(student.conv_post, F.leaky_relu(s, FINAL_LRELU_SLOPE),
         teacher.conv_post(F.leaky_relu(t, FINAL_LRELU_SLOPE)), generator)
    return finalize(student)


@torch.no_grad()
def widen(small: HiFiGAN, config: dict, seed: int = 0, read_scale: float = 0.1) -> HiFiGAN:
    """The generator of `config` (the same layout, wider) that computes exactly what `small`
    does, as the start of training more capacity instead of a fresh cut.

    Every added channel starts at zero: the weights that write it are zero, and the weights
    that read it are small random numbers (read_scale of the layer's typical weight), so that
    the gradient reaches the writing weights and the added channels learn from the first step.
    Weight norm is kept: a conv's norm runs over its output channel (weight_g [out, 1, 1]), a
    transposed conv's over its input channel ([in, 1, 1]); each row's gain is rescaled so the
    row's old weights are unchanged by the entries appended to it."""
    generator = torch.Generator().manual_seed(seed)
    wide = finalize(HiFiGAN(config))
    small_modules = dict(small.named_modules())
    for name, module in wide.named_modules():
        if not isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
            continue
        old = small_modules[name]
        v_old, g_old = old.weight_v, old.weight_g
        v = torch.zeros_like(module.weight_v)
        n0, n1, k = v_old.shape
        v[:n0, :n1] = v_old
        transposed = isinstance(module, torch.nn.ConvTranspose1d)
        reads = (slice(n0, None), slice(None)) if transposed else (slice(None), slice(n1, None))
        typical = v_old.pow(2).mean().sqrt() * read_scale
        v[reads] = torch.randn(v[reads].shape, generator=generator) * typical
        g = torch.zeros_like(module.weight_g)
        norm_old = v_old.flatten(1).norm(dim=1)[:, None, None]
        norm_new = v[:n0].flatten(1).norm(dim=1)[:, None, None]
        g[:n0] = g_old * norm_new / norm_old
        if transposed:  # rows that read the added inputs: their weight is v itself
            g[n0:] = v[n0:].flatten(1).norm(dim=1)[:, None, None]
        else:  # rows that write the added outputs: zero until trained (v random, g zero)
            v[n0:] = torch.randn(v[n0:].shape, generator=generator) * typical
        module.weight_v.copy_(v)
        module.weight_g.copy_(g)
        module.bias.zero_()
        module.bias[:old.bias.shape[0]] = old.bias
    return finalize(wide)
