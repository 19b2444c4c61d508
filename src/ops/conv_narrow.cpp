// narrow_conv (declared in conv_phases.hpp): direct 1-D conv for one or two output channels.
#include <algorithm>
#include <cmath>

#include "ops/conv_onednn.hpp"
#include "ops/conv_phases.hpp"

namespace amphora {

namespace {
constexpr int64_t kTile = 2048;  // output samples per work item: the accumulator stays in L1
}

bool narrow_conv_applies(const ConvGeometry& g) {
  return !g.transpose && g.spatial_rank == 1 && g.batch == 1 && g.group == 1 &&
         g.out_channels <= kNarrowMaxOutputs && g.strides[0] == 1;
}

// Ignores post.input_activation: the caller passes X already activated.
bool narrow_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                 const ConvPostOps& post, const float* residual, float* y) {
  if (!narrow_conv_applies(g)) return false;
  const int64_t in_len = g.in[0], out_len = g.out[0], k = g.kernel[0], d = g.dilations[0];
  const int64_t pad = g.pad_begin[0], channels = g.in_channels;
  const int64_t tiles = (out_len + kTile - 1) / kTile;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < g.out_channels; ++o) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t t0 = tile * kTile, t1 = std::min(out_len, t0 + kTile);
      float acc[kTile];
      std::fill(acc, acc + (t1 - t0), bias ? bias[o] : 0.0f);
      for (int64_t c = 0; c < channels; ++c) {
        const float* row = x + c * in_len;
        const float* taps = w + (o * channels + c) * k;
        for (int64_t j = 0; j < k; ++j) {
          const float tap = taps[j];
          const int64_t shift = j * d - pad;  // input index = t + shift
          // Only the output samples whose input lies inside the row; the rest read padding.
          const int64_t lo = std::clamp(-shift, t0, t1), hi = std::clamp(in_len - shift, t0, t1);
          const float* src = row + shift;
          for (int64_t t = lo; t < hi; ++t) acc[t - t0] += tap * src[t];
        }
      }
      float* out = y + o * out_len;
      for (int64_t t = t0; t < t1; ++t) {
        float v = acc[t - t0];
        switch (post.activation) {
          case ConvPostOps::Activation::kNone:
            break;
          case ConvPostOps::Activation::kRelu:
            v = v > 0.0f ? v : 0.0f;
            break;
          case ConvPostOps::Activation::kLeakyRelu:
            v = v >= 0.0f ? v : v * post.alpha;
            break;
          case ConvPostOps::Activation::kTanh:
            v = std::tanh(v);
            break;
        }
        out[t] = residual ? v + residual[o * out_len + t] : v;
      }
    }
  }
  return true;
}

}  // namespace amphora
