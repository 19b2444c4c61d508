// What a fused conv (com.amphora FusedConv, conv_fused.hpp) does beyond the convolution and its
// bias. Its own header because every conv path honours it -- oneDNN as post-ops, narrow_conv and
// the tiled packing in their own loops, the reference path as plain loops -- and none of them
// should have to include another's header for it.
#pragma once

#include <cstdint>

namespace amphora {

// What a fused conv applies after the convolution and bias, in this order.
struct ConvPostOps {
  enum class Activation { kNone, kRelu, kLeakyRelu, kTanh };
  Activation activation = Activation::kNone;
  float alpha = 0.01f;  // LeakyRelu slope for negative inputs
  bool sum = false;     // add a residual tensor of the output's shape last
  // Relu/LeakyRelu applied to the conv's input X first (the pre-activation of a resblock):
  // folded into the packing of X into the primitive's layout where there is one.
  bool input_activation = false;
  float input_slope = 1.0f;  // negative-side slope: 0 for Relu, alpha for LeakyRelu
  // X's time padding (1-D) mirrors X (ONNX Pad mode "reflect") instead of being zeros: a tiled
  // conv packs it that way, every other path reads a reflect-padded copy of X.
  bool reflect_pad = false;

  bool operator==(const ConvPostOps&) const = default;
};

// post.activation on y[0..n) in place, as plain loops: the reference definition, which the
// streamer also applies to a FusedConvTranspose's steps once they are final.
void apply_activation(const ConvPostOps& post, float* y, int64_t n);

}  // namespace amphora
