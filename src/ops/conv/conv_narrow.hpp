// A vocoder's last conv (32..128 channels -> 1, k7) over the whole waveform: oneDNN's direct
// kernel pads the single output channel to 8 (8x the work, ~5 GFLOP/s) and its GEMM path is
// slower still. For up to kNarrowMaxOutputs outputs, stride 1, group 1, batch 1 (1-D), this
// computes y[o, t] = act(b[o] + sum_c sum_j w[o, c, j] in_act(x[c, t + j*d - pad])) + residual
// over time tiles, parallel over the tiles: each tile's window of X is gathered (activated by
// post.input_activation, zero-padded) and 64 outputs at a time accumulate in AVX2 registers.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_post_ops.hpp"
#include "ops/conv/conv_tiled.hpp"

namespace amphora {

inline constexpr int64_t kNarrowMaxOutputs = 2;

bool narrow_conv_applies(const ConvGeometry& g);
// Returns false (nothing written) for problems narrow_conv_applies() turns down.
bool narrow_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                 const ConvPostOps& post, const float* residual, float* y);
// The same with X given as the pieces that make it along time (a streamed conv's history and
// new chunk, conv_tiled.hpp), gathered straight into each tile's window.
bool narrow_conv(const ConvGeometry& g, const std::vector<TimePiece>& x, const float* w,
                 const float* bias, const ConvPostOps& post, const float* residual, float* y);

}  // namespace amphora
