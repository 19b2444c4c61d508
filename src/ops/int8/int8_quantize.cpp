#include "ops/int8/int8_quantize.hpp"

#include <cmath>
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

// Quantizer::quantize and byte on 8 lanes, the same operations in the same order (bit-identical
// results); the 8 bytes end up in the low half.
class Lanes {
 public:
  explicit Lanes(const Quantizer& q)
      : slope_(_mm256_set1_ps(q.slope)),
        scale_(_mm256_set1_ps(q.scale)),
        zero_(_mm256_set1_ps(q.zero_point)),
        low_(_mm256_set1_ps(q.low())),
        high_(_mm256_set1_ps(q.high())),
        is_unsigned_(q.is_unsigned) {}

  // The quantized values, as floats.
  __m256 quantize(__m256 v) const {
    const __m256 round = _mm256_set1_ps(12582912.0f);
    v = leaky_relu8(v, slope_);
    v = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(v, scale_), _mm256_set1_ps(-512.0f)),
                      _mm256_set1_ps(512.0f));
    v = _mm256_add_ps(_mm256_sub_ps(_mm256_add_ps(v, round), round), zero_);
    return _mm256_min_ps(_mm256_max_ps(v, low_), high_);
  }
  // (quantize(v) - zero_point) * scale: what DequantizeLinear gives back.
  __m256 fake_quantize(__m256 v) const {
    return _mm256_mul_ps(_mm256_sub_ps(quantize(v), zero_), scale_);
  }

  __m128i operator()(__m256 v) const {
    const __m256i q = _mm256_cvtps_epi32(quantize(v));  // exact: already an integer
    const __m128i words =
        _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    return is_unsigned_ ? _mm_packus_epi16(words, words) : _mm_packs_epi16(words, words);
  }

 private:
  __m256 slope_, scale_, zero_, low_, high_;
  bool is_unsigned_;
};

// Steps [t0, t1) of one batch item: 8 channels x 8 steps at a time are loaded as rows,
// transposed in registers and quantized along the channels, so that each store is 8
// consecutive bytes of one output step; the edges go one value at a time.
void quantize_steps(const float* x, int64_t channels, int64_t length, int64_t t0, int64_t t1,
                    const Quantizer& quant, uint8_t* out) {
  const Lanes lanes(quant);
  int64_t t = t0;
  for (; t + 8 <= t1; t += 8) {
    int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(x + (c + i) * length + t);
      transpose8x8(v);
      for (int i = 0; i < 8; ++i) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(out + (t + i) * channels + c), lanes(v[i]));
      }
    }
    for (; c < channels; ++c) {
      for (int64_t i = t; i < t + 8; ++i) {
        out[i * channels + c] = quant.byte(quant.quantize(x[c * length + i]));
      }
    }
  }
  for (; t < t1; ++t) {
    for (int64_t c = 0; c < channels; ++c) {
      out[t * channels + c] = quant.byte(quant.quantize(x[c * length + t]));
    }
  }
}

}  // namespace

Quantizer Quantizer::dynamic(const float* x, int64_t n, float slope) {
  float low = 0.0f, high = 0.0f;
#pragma omp parallel for reduction(min : low) reduction(max : high) if (n > 65536)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i] >= 0.0f ? x[i] : x[i] * slope;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  // As DynamicQuantizeLinear's reference kernel (ops/quantize/quantize.cpp) computes them.
  const float scale = (high - low) / 255.0f;
  const float zero = scale == 0.0f ? 0.0f : std::clamp(std::nearbyint(-low / scale), 0.0f, 255.0f);
  return {slope, scale, zero, true};
}

void quantize_ncw_to_nwc(const float* x, int64_t batch, int64_t channels, int64_t length,
                         int64_t pad_begin, int64_t pad_end, Int8Padding padding,
                         const Quantizer& quant, uint8_t* out) {
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
                     std::min(used, (tile + 1) * kTile), quant,
                     out + (n * padded + pad_begin) * channels);
    }
  }
  // The padding: a few steps at each end, the quantized zero or copies of the steps they mirror.
  const auto channel_bytes = static_cast<size_t>(channels);
  const uint8_t zero = quant.byte(quant.zero_point);
  for (int64_t n = 0; n < batch; ++n) {
    uint8_t* on = out + n * padded * channels;
    const auto fill = [&](int64_t p) {
      uint8_t* dst = on + (p + pad_begin) * channels;
      const int64_t from = source_step(p, used, padding);
      if (from < 0 || from >= used) {
        std::memset(dst, zero, channel_bytes);
      } else {
        std::memcpy(dst, on + (from + pad_begin) * channels, channel_bytes);
      }
    };
    for (int64_t p = -pad_begin; p < 0; ++p) fill(p);
    for (int64_t p = used; p < used + pad_end; ++p) fill(p);
  }
}

void quantize_dense(const float* x, int64_t n, const Quantizer& quant, uint8_t* out) {
  const Lanes lanes(quant);
  const int64_t whole = n / 8 * 8;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < whole; i += 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), lanes(_mm256_loadu_ps(x + i)));
  }
  for (int64_t i = whole; i < n; ++i) out[i] = quant.byte(quant.quantize(x[i]));
}

void fake_quantize(float* x, int64_t n, const Quantizer& quant) { fake_quantize(x, x, n, quant); }

void fake_quantize(const float* x, float* out, int64_t n, const Quantizer& quant) {
  if (quant.scale == 0.0f) {
    std::fill(out, out + n, 0.0f);
    return;
  }
  const Lanes lanes(quant);
  const int64_t whole = n / 8 * 8;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < whole; i += 8) {
    _mm256_storeu_ps(out + i, lanes.fake_quantize(_mm256_loadu_ps(x + i)));
  }
  for (int64_t i = whole; i < n; ++i) {
    out[i] = (quant.quantize(x[i]) - quant.zero_point) * quant.scale;
  }
}

}  // namespace amphora
