// narrow_conv: direct 1-D conv for one or two output channels (conv_narrow.hpp).
#include "ops/conv/conv_narrow.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/elementwise/elementwise_fast.hpp"

namespace amphora {

namespace {
constexpr int64_t kTile = 2048;       // output samples per work item
constexpr int64_t kOutputBlock = 64;  // outputs accumulated in registers at a time
}  // namespace

bool narrow_conv_applies(const ConvGeometry& g) {
  return !g.transpose && g.spatial_rank == 1 && g.batch == 1 && g.group == 1 &&
         g.out_channels <= kNarrowMaxOutputs && g.strides[0] == 1;
}

bool narrow_conv(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                 const ConvPostOps& post, const float* residual, float* y) {
  return narrow_conv(g, {{x, g.in[0], 0, g.in[0]}}, w, bias, post, residual, y);
}

bool narrow_conv(const ConvGeometry& g, const std::vector<TimePiece>& x, const float* w,
                 const float* bias, const ConvPostOps& post, const float* residual, float* y) {
  if (!narrow_conv_applies(g)) return false;
  const int64_t out_len = g.out[0], k = g.kernel[0], d = g.dilations[0];
  const int64_t pad = g.pad_begin[0], channels = g.in_channels;
  const int64_t span = (k - 1) * d + 1, tiles = (out_len + kTile - 1) / kTile;
  const float slope = post.input_activation ? post.input_slope : 1.0f;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t o = 0; o < g.out_channels; ++o) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t t0 = tile * kTile, n = std::min(out_len, t0 + kTile) - t0;
      // The tile's inputs [t0 - pad, t0 - pad + n + span - 1) of every channel, activated and
      // zero-padded, so that the accumulation below needs no bounds checks.
      const int64_t width = n + span - 1;
      thread_local std::vector<float> window;
      window.resize(static_cast<size_t>(channels * width));
      const int64_t first = t0 - pad;  // input sample of window[0]
      // window[c * width + i] is input sample first + i: from the pieces where they reach, zero
      // elsewhere (padding, null pieces).
      const auto zero = [&](int64_t from, int64_t to) {
        for (int64_t c = 0; c < channels; ++c) {
          std::fill(window.data() + c * width + from, window.data() + c * width + to, 0.0f);
        }
      };
      int64_t begin = 0, done = 0;  // input sample where the piece starts; window filled to
      for (const TimePiece& piece : x) {
        const int64_t lo = std::clamp<int64_t>(begin - first, done, width);
        const int64_t hi = std::clamp<int64_t>(begin + piece.length - first, lo, width);
        zero(done, lo);
        if (piece.rows) {
          for (int64_t c = 0; c < channels; ++c) {
            leaky_relu_row(piece.rows + c * piece.row_length + piece.start + first + lo - begin,
                           window.data() + c * width + lo, hi - lo, slope);
          }
        } else {
          zero(lo, hi);
        }
        done = hi;
        begin += piece.length;
      }
      zero(done, width);
      // 64 outputs at a time in eight AVX2 accumulators: per tap one broadcast weight and eight
      // loads, no stores until the block is done.
      alignas(32) float acc[kTile];
      const float b = bias ? bias[o] : 0.0f;
      int64_t i = 0;
      for (; i + kOutputBlock <= n; i += kOutputBlock) {
        __m256 sums[kOutputBlock / 8];
        for (auto& sum : sums) sum = _mm256_set1_ps(b);
        for (int64_t c = 0; c < channels; ++c) {
          const float* taps = w + (o * channels + c) * k;
          const float* src = window.data() + c * width + i;
          for (int64_t j = 0; j < k; ++j) {
            const __m256 tap = _mm256_set1_ps(taps[j]);
            const float* at = src + j * d;
            for (int64_t v = 0; v < kOutputBlock / 8; ++v) {
              sums[v] = _mm256_fmadd_ps(tap, _mm256_loadu_ps(at + 8 * v), sums[v]);
            }
          }
        }
        for (int64_t v = 0; v < kOutputBlock / 8; ++v) _mm256_store_ps(acc + i + 8 * v, sums[v]);
      }
      for (; i < n; ++i) {  // the tile's last < 64 outputs
        float sum = b;
        for (int64_t c = 0; c < channels; ++c) {
          const float* taps = w + (o * channels + c) * k;
          const float* src = window.data() + c * width + i;
          for (int64_t j = 0; j < k; ++j) sum += taps[j] * src[j * d];
        }
        acc[i] = sum;
      }
      // The epilogue, one vectorisable loop per activation.
      float* out = y + o * out_len;
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
