// com.amphora DwConvLayerNorm: a ConvNeXt block's depthwise 1-D conv and the LayerNorm after it,
// on channels-last activations, written by passes/convnext_channels_last.cpp (Vocos). The graph
// it replaces, Conv(group = C) -> Transpose [N, C, T] -> [N, T, C] -> LayerNormalization(axis -1),
// spent as much time transposing as convolving; here the block stays in [N, T, C] from the conv
// through both pointwise layers (FusedMatMul) and its residual.
//
// Inputs: X [N, T, C] (time on axis 1, channels contiguous), W [C, 1, K] (the Conv's weights),
// optional conv bias B [C], LayerNorm Scale [C] and optional LayerNorm bias [C]. Attributes: the
// Conv's `kernel_shape`, `pads` (begin, end along time), `dilations` (stride 1 only), and the
// LayerNorm's `epsilon`. Output Y [N, T + pads - dilation * (K - 1), C]:
//   conv[n, t, c] = B[c] + sum_k W[c, 0, k] * X[n, t - pad_begin + k * dilation, c]   (zeros outside)
//   Y[n, t, :] = (conv[n, t, :] - mean) / sqrt(var + epsilon) * Scale + bias   (over the C values)
// The streamer treats it as a conv along axis 1 (conv_stream.cpp). The fast path computes a
// row's conv in vectors over C and normalises it while it is in cache, in float; the reference
// path accumulates the conv in float and the statistics in double, like LayerNormalization's.
#pragma once

#include "ops/kernel.hpp"

namespace amphora {

void register_dw_conv_norm_op(OpRegistry& registry);

}  // namespace amphora
