#include "ops/int8/int8_quantize.hpp"

#include <cstring>

namespace amphora {
namespace {

// Tiles of kTimeTile steps x kChannelTile channels: reads stay along X's rows (time), writes
// along the output's rows (channels), and a tile fits in L1 both ways.
constexpr int64_t kTimeTile = 64;
constexpr int64_t kChannelTile = 64;

// Source time index of padded position p (p in [-pad_begin, length + pad_end)), or -1 for zero.
int64_t source_step(int64_t p, int64_t length, Int8Padding padding) {
  if (p >= 0 && p < length) return p;
  if (padding == Int8Padding::kZeros) return -1;
  return p < 0 ? -p : 2 * (length - 1) - p;  // mirror without repeating the edge
}

}  // namespace

void quantize_ncw_to_nwc(const float* x, int64_t batch, int64_t channels, int64_t length,
                         int64_t pad_begin, int64_t pad_end, Int8Padding padding, float slope,
                         float scale, int8_t* out) {
  const int64_t padded = pad_begin + length + pad_end;
  const int64_t time_tiles = (length + kTimeTile - 1) / kTimeTile;
#pragma omp parallel for collapse(2) schedule(static) if (batch * channels * length > 65536)
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t tile = 0; tile < time_tiles; ++tile) {
      const float* xn = x + n * channels * length;
      int8_t* on = out + (n * padded + pad_begin) * channels;
      const int64_t t0 = tile * kTimeTile, t1 = std::min(length, t0 + kTimeTile);
      for (int64_t c0 = 0; c0 < channels; c0 += kChannelTile) {
        const int64_t c1 = std::min(channels, c0 + kChannelTile);
        int8_t q[kChannelTile][kTimeTile];
        for (int64_t c = c0; c < c1; ++c) {
          const float* row = xn + c * length;
          for (int64_t t = t0; t < t1; ++t) q[c - c0][t - t0] = quantize_int8(row[t], slope, scale);
        }
        for (int64_t t = t0; t < t1; ++t) {
          int8_t* dst = on + t * channels;
          for (int64_t c = c0; c < c1; ++c) dst[c] = q[c - c0][t - t0];
        }
      }
    }
  }
  // The padding: a few steps at each end, copied from the quantized steps they mirror.
  const auto channel_bytes = static_cast<size_t>(channels);
  for (int64_t n = 0; n < batch; ++n) {
    int8_t* on = out + n * padded * channels;
    const auto fill = [&](int64_t p) {
      int8_t* dst = on + (p + pad_begin) * channels;
      const int64_t from = source_step(p, length, padding);
      if (from < 0 || from >= length) {
        std::memset(dst, 0, channel_bytes);
      } else {
        std::memcpy(dst, on + (from + pad_begin) * channels, channel_bytes);
      }
    };
    for (int64_t p = -pad_begin; p < 0; ++p) fill(p);
    for (int64_t p = length; p < length + pad_end; ++p) fill(p);
  }
}

void quantize_dense(const float* x, int64_t n, float slope, float scale, int8_t* out) {
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) out[i] = quantize_int8(x[i], slope, scale);
}

void fake_quantize(float* x, int64_t n, float slope, float scale) {
  for (int64_t i = 0; i < n; ++i)
    x[i] = scale * static_cast<float>(quantize_int8(x[i], slope, scale));
}

}  // namespace amphora
