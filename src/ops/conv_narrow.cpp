// narrow_conv (declared in conv_phases.hpp): direct 1-D conv for one or two output channels.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/conv_onednn.hpp"
#include "ops/conv_phases.hpp"
#include "ops/elementwise_fast.hpp"

namespace amphora {

namespace {
constexpr int64_t kTile = 2048;  // output samples per work item: the accumulator stays in L1
}

bool narrow_conv_applies(const ConvGeometry& g) {
  return !g.transpose && g.spatial_rank == 1 && g.batch == 1 && g.group == 1 &&
         g.out_channels <= kNarrowMaxOutputs && g.strides[0] == 1;
}

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
      // The tile reads inputs [first, last) of each row; with an input activation they are
      // activated into `window` first (window[i] holds input first + i).
      const int64_t first = std::max<int64_t>(0, t0 - pad);
      const int64_t last = std::clamp<int64_t>(t1 - pad + (k - 1) * d, first, in_len);
      thread_local std::vector<float> window;
      if (post.input_activation) window.resize(static_cast<size_t>(last - first));
      for (int64_t c = 0; c < channels; ++c) {
        const float* row = x + c * in_len;
        if (post.input_activation) {
          const float slope = post.input_slope;
#pragma omp simd
          for (int64_t i = first; i < last; ++i) {
            window[i - first] = row[i] >= 0.0f ? row[i] : row[i] * slope;
          }
        }
        const float* taps = w + (o * channels + c) * k;
        for (int64_t j = 0; j < k; ++j) {
          const float tap = taps[j];
          const int64_t shift = j * d - pad;  // input index = t + shift
          // Only the output samples whose input lies inside the row; the rest read padding.
          const int64_t lo = std::clamp(-shift, t0, t1), hi = std::clamp(in_len - shift, t0, t1);
          const float* src = post.input_activation ? window.data() + (shift - first) : row + shift;
          for (int64_t t = lo; t < hi; ++t) acc[t - t0] += tap * src[t];
        }
      }
      // The epilogue, one vectorisable loop per activation.
      float* out = y + o * out_len;
      const int64_t n = t1 - t0;
      switch (post.activation) {
        case ConvPostOps::Activation::kNone:
          break;
        case ConvPostOps::Activation::kRelu:
#pragma omp simd
          for (int64_t i = 0; i < n; ++i) acc[i] = acc[i] > 0.0f ? acc[i] : 0.0f;
          break;
        case ConvPostOps::Activation::kLeakyRelu:
#pragma omp simd
          for (int64_t i = 0; i < n; ++i) acc[i] = acc[i] >= 0.0f ? acc[i] : acc[i] * post.alpha;
          break;
        case ConvPostOps::Activation::kTanh:
#pragma omp simd
          for (int64_t i = 0; i < n; ++i) acc[i] = fast_tanh(acc[i]);
          break;
      }
      const float* add = residual ? residual + o * out_len + t0 : nullptr;
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) out[t0 + i] = add ? acc[i] + add[i] : acc[i];
    }
  }
  return true;
}

}  // namespace amphora
