// Dilated 1-D convs as undilated ones over time phases ("dilation to batch").
//
// oneDNN 2.6 on AVX2 runs a dilated 1-D conv through im2col + GEMM at about half the speed of its
// direct jit kernel (32 channels, k7, d3: 58 vs 112 GFLOP/s on one core), and the dilated convs
// are a third (HiFi-GAN V1, BigVGAN) to most (V3) of a vocoder's resblock work. With stride 1
// and a left padding that is a multiple of the dilation d, output sample n*d + r depends only on
// input samples m*d + r: phase r of the output is an undilated conv of phase r of the input. So
// the d phases become the batch of one undilated conv, and packing into that layout replaces
// the plain -> blocked reorder the jit kernel needs anyway.
#pragma once

#include <cstdint>

#include "ops/conv/conv_attrs.hpp"

namespace amphora {

// The undilated, batched problem equivalent to a dilated 1-D conv, or `valid == false`.
struct PhaseSplit {
  bool valid = false;
  int64_t phases = 1;            // the dilation d
  int64_t in_len = 0;            // ceil(T_in / d): input samples per phase (zero-filled tail)
  int64_t out_len = 0;           // ceil(T_out / d)
  int64_t pad_l = 0, pad_r = 0;  // of the undilated conv over one phase
  ConvGeometry batched;          // batch d, no dilation, in/out lengths per phase
};

// Valid for batch-1, group-1, stride-1 1-D Conv (not ConvTranspose) with dilation > 1 and a left
// padding that is a non-negative multiple of the dilation.
PhaseSplit split_into_phases(const ConvGeometry& g);

// x [C, T] (plain) -> [d, ceil(C/8), in_len, 8] (oneDNN nCw8c over batch d), zeros where the
// sample or channel does not exist. Parallel over channel blocks and time.
// `negative_slope` scales negative inputs on the way (a fused Relu/LeakyRelu); 1 copies.
void pack_phases(const float* x, int64_t channels, int64_t length, int64_t phases,
                 int64_t phase_len, float* packed, float negative_slope = 1.0f);
// The inverse for the output: [d, ceil(C/8), out_len, 8] -> y [C, T] (padding dropped).
void unpack_phases(const float* packed, int64_t channels, int64_t length, int64_t phases,
                   int64_t phase_len, float* y);
// The two above are AVX2 (8x8 in-register transposes); these are their scalar references, with
// the same contract and bit-identical results, kept for the tests.
void pack_phases_reference(const float* x, int64_t channels, int64_t length, int64_t phases,
                           int64_t phase_len, float* packed, float negative_slope = 1.0f);
void unpack_phases_reference(const float* packed, int64_t channels, int64_t length, int64_t phases,
                             int64_t phase_len, float* y);

}  // namespace amphora
