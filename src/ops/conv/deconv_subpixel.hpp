// 1-D ConvTranspose as a sub-pixel (polyphase) conv.
//
// oneDNN 2.6 on AVX2 runs the vocoder upsamplers' 1-D deconvolutions through "x64:gemm:jit" at
// 25-55 GFLOP/s, while its direct jit convolution reaches 50-65 GFLOP/s per core. A stride-s
// transposed conv is s ordinary convs sharing the input: with t + pad_begin = n*s + p
// (0 <= p < s), y[o, t] = sum_m sum_c x[c, n - m] * w[c, o, p + m*s], m = 0..M-1, M = ceil(k/s).
// Stacking the phases as output channels (stacked channel o*s + p) gives ONE undilated,
// stride-1 conv with C_out*s outputs and M taps over the plain input; its output is then
// interleaved back: stacked channel o*s + p at step n -> y[o, n*s + p - pad_begin]. Ordering
// the stack o-major makes that interleave read s consecutive channels (contiguous within a
// nCw8c block) per output row and step.
#pragma once

#include <cstdint>

#include "ops/conv/conv_attrs.hpp"

namespace amphora {

// The stacked conv equivalent to a ConvTranspose, or `valid == false`.
struct SubpixelSplit {
  bool valid = false;
  int64_t stride = 1;      // s: the number of phases
  int64_t taps = 0;        // M = ceil(k/s)
  int64_t first_step = 0;  // n0 = floor(pad_begin / s): the step of output sample 0
  int64_t steps = 0;       // N: stacked conv's output length (steps n0 .. n0 + N - 1)
  ConvGeometry stacked;    // batch 1, C_in -> C_out*s, kernel M, stride 1, dilation 1
};

// Valid for batch-1, group-1, undilated 1-D ConvTranspose with stride >= 2 and pad_begin >= 0
// small enough that the stacked conv's left padding (M - 1 - n0) is not negative.
SubpixelSplit split_subpixel(const ConvGeometry& g);

// ConvTranspose weights w [C_in, C_out, k] -> stacked conv weights [C_out*s, C_in, M]:
// W'[o*s + p, c, q] = w[c, o, p + (M-1-q)*s], zero where that tap is >= k.
void stack_subpixel_weights(const ConvGeometry& g, const SubpixelSplit& split, const float* w,
                            float* stacked);
// The same for int8 weights (the int8 ConvTranspose, ops/int8/int8_conv_onednn.hpp).
void stack_subpixel_weights(const ConvGeometry& g, const SubpixelSplit& split, const int8_t* w,
                            int8_t* stacked);
// bias [C_out] -> [C_out*s], repeated per phase.
void stack_subpixel_bias(const ConvGeometry& g, const SubpixelSplit& split, const float* bias,
                         float* stacked);

// The stacked conv's output in oneDNN nCw8c ([ceil(C_out*s/8), N, 8]) -> y [C_out, T_out],
// adding `residual` (shape of y, may be null) on the way. Parallel over output rows.
void interleave_subpixel(const ConvGeometry& g, const SubpixelSplit& split, const float* blocked,
                         const float* residual, float* y);

}  // namespace amphora
