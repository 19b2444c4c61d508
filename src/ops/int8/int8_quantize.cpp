#include "ops/int8/int8_quantize.hpp"

#include <cstring>

#include "ops/avx2_lanes.hpp"

namespace amphora {
namespace {

// Source time index of padded position p (p in [-pad_begin, length + pad_end)), or -1 for zero.
int64_t source_step(int64_t p, int64_t length, Int8Padding padding) {
  if (p >= 0 && p < length) return p;
  if (padding == Int8Padding::kZeros) return -1;
  return p < 0 ? -p : 2 * (length - 1) - p;  // mirror without repeating the edge
}

// quantize_int8 on 8 lanes, the same operations in the same order (bit-identical results).
inline __m128i quantize8(__m256 v, __m256 slope, __m256 scale) {
  const __m256 round = _mm256_set1_ps(12582912.0f);
  v = leaky_relu8(v, slope);
  v = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(v, scale), _mm256_set1_ps(-129.0f)),
                    _mm256_set1_ps(128.0f));
  v = _mm256_sub_ps(_mm256_add_ps(v, round), round);
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
  const __m256i q = _mm256_cvtps_epi32(v);  // exact: v is already an integer
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  return _mm_packs_epi16(words, words);  // the 8 bytes in the low half
}

// Steps [t0, t1) of one batch item: 8 channels x 8 steps at a time are loaded as rows,
// transposed in registers and quantized along the channels, so that each store is 8
// consecutive bytes of one output step; the edges go one value at a time.
void quantize_steps(const float* x, int64_t channels, int64_t length, int64_t t0, int64_t t1,
                    float slope, float scale, int8_t* out) {
  const __m256 slope8 = _mm256_set1_ps(slope), scale8 = _mm256_set1_ps(scale);
  int64_t t = t0;
  for (; t + 8 <= t1; t += 8) {
    int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(x + (c + i) * length + t);
      transpose8x8(v);
      for (int i = 0; i < 8; ++i) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + (t + i) * channels + c),
                         quantize8(v[i], slope8, scale8));
      }
    }
    for (; c < channels; ++c) {
      for (int64_t i = t; i < t + 8; ++i) {
        out[i * channels + c] = quantize_int8(x[c * length + i], slope, scale);
      }
    }
  }
  for (; t < t1; ++t) {
    for (int64_t c = 0; c < channels; ++c) {
      out[t * channels + c] = quantize_int8(x[c * length + t], slope, scale);
    }
  }
}

}  // namespace

void quantize_ncw_to_nwc(const float* x, int64_t batch, int64_t channels, int64_t length,
                         int64_t pad_begin, int64_t pad_end, Int8Padding padding, float slope,
                         float scale, int8_t* out) {
  // A negative end padding drops X's last steps (they reach no output).
  const int64_t used = length + std::min<int64_t>(pad_end, 0);
  pad_end = std::max<int64_t>(pad_end, 0);
  if (channels <= 0 || used <= 0) return;
  const int64_t padded = pad_begin + used + pad_end;
  constexpr int64_t kTile = 256;  // steps per task: 8 KiB of each of up to 8 rows in flight
  const int64_t tiles = (used + kTile - 1) / kTile;
#pragma omp parallel for collapse(2) schedule(static) if (batch * channels * used > 65536)
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      quantize_steps(x + n * channels * length, channels, length, tile * kTile,
                     std::min(used, (tile + 1) * kTile), slope, scale,
                     out + (n * padded + pad_begin) * channels);
    }
  }
  // The padding: a few steps at each end, copied from the quantized steps they mirror.
  const auto channel_bytes = static_cast<size_t>(channels);
  for (int64_t n = 0; n < batch; ++n) {
    int8_t* on = out + n * padded * channels;
    const auto fill = [&](int64_t p) {
      int8_t* dst = on + (p + pad_begin) * channels;
      const int64_t from = source_step(p, used, padding);
      if (from < 0 || from >= used) {
        std::memset(dst, 0, channel_bytes);
      } else {
        std::memcpy(dst, on + (from + pad_begin) * channels, channel_bytes);
      }
    };
    for (int64_t p = -pad_begin; p < 0; ++p) fill(p);
    for (int64_t p = used; p < used + pad_end; ++p) fill(p);
  }
}

void quantize_dense(const float* x, int64_t n, float slope, float scale, int8_t* out) {
  const __m256 slope8 = _mm256_set1_ps(slope), scale8 = _mm256_set1_ps(scale);
  const int64_t whole = n / 8 * 8;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < whole; i += 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i),
                     quantize8(_mm256_loadu_ps(x + i), slope8, scale8));
  }
  for (int64_t i = whole; i < n; ++i) out[i] = quantize_int8(x[i], slope, scale);
}

void fake_quantize(float* x, int64_t n, float slope, float scale) {
  for (int64_t i = 0; i < n; ++i)
    x[i] = scale * static_cast<float>(quantize_int8(x[i], slope, scale));
}

}  // namespace amphora
