#include "ops/elementwise/elementwise_fast.hpp"

#include <algorithm>
#include <cmath>

#include "ops/avx2_lanes.hpp"
#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {

void erf_fast(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = fast_erf(x[i]);
}

void leaky_relu_row(const float* x, float* y, int64_t n, float slope) {
  const __m256 vslope = _mm256_set1_ps(slope);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, leaky_relu8(_mm256_loadu_ps(x + i), vslope));
  for (; i < n; ++i) y[i] = x[i] >= 0.0f ? x[i] : x[i] * slope;
}

void tanh_fast(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = fast_tanh(x[i]);
}

namespace {

// fast_sin_shifted on 8 lanes, the same reduction, polynomials and quadrant choice (written out
// because the scalar form, inlined in a loop, stays scalar).
__m256 sin8(__m256 in, int quarter_turns) {
  auto c = [](float v) { return _mm256_set1_ps(v); };
  const __m256 inside = _mm256_cmp_ps(
      _mm256_andnot_ps(c(-0.0f), in), c(kFastSinLimit), _CMP_LE_OQ);  // false for NaN
  const __m256 a = _mm256_and_ps(in, inside);
  const __m256 k = _mm256_sub_ps(_mm256_fmadd_ps(a, c(0.636619772f), c(12582912.0f)),
                                 c(12582912.0f));
  __m256 r = _mm256_sub_ps(a, _mm256_mul_ps(k, c(1.5703125f)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(k, c(4.837512969970703e-4f)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(k, c(7.549790126404332e-8f)));
  const __m256 r2 = _mm256_mul_ps(r, r);
  __m256 sp = _mm256_fnmadd_ps(r2, c(1.9515295891e-4f), c(8.3321608736e-3f));
  sp = _mm256_fmadd_ps(r2, sp, c(-1.6666654611e-1f));
  const __m256 s = _mm256_add_ps(r, _mm256_mul_ps(_mm256_mul_ps(r, r2), sp));
  __m256 cp = _mm256_fmadd_ps(r2, c(2.443315711809948e-5f), c(-1.388731625493765e-3f));
  cp = _mm256_fmadd_ps(r2, cp, c(4.166664568298827e-2f));
  const __m256 cv = _mm256_add_ps(_mm256_sub_ps(c(1.0f), _mm256_mul_ps(c(0.5f), r2)),
                                  _mm256_mul_ps(_mm256_mul_ps(r2, r2), cp));
  const __m256i quadrant = _mm256_add_epi32(_mm256_cvttps_epi32(k), _mm256_set1_epi32(quarter_turns));
  const __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(
      _mm256_and_si256(quadrant, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
  const __m256 v = _mm256_blendv_ps(s, cv, odd);
  const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(quadrant, _mm256_set1_epi32(2)), 30);
  return _mm256_xor_ps(v, _mm256_castsi256_ps(sign));
}

// y = fast8(x) eight lanes at a time (`tail` for the last few), in parallel chunks; the inputs
// `inside` rejects are then computed again by `exact` (libm). Each chunk keeps one flag, so in
// the common case -- every input inside -- the check costs one OR per eight values.
template <typename Fast8, typename Inside8, typename Tail, typename Inside, typename Exact>
void map8_with_fallback(const float* x, float* y, int64_t n, Fast8 fast8, Inside8 inside8,
                        Tail tail, Inside inside, Exact exact) {
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  int outside = 0;
#pragma omp parallel for schedule(static) reduction(| : outside) if (n > kParallelElements)
  for (int64_t chunk = 0; chunk < chunks; ++chunk) {
    const int64_t lo = chunk * kChunk, hi = std::min(n, lo + kChunk);
    int64_t i = lo;
    __m256 bad = _mm256_setzero_ps();
    for (; i + 8 <= hi; i += 8) {
      const __m256 v = _mm256_loadu_ps(x + i);
      bad = _mm256_or_ps(bad, _mm256_xor_ps(inside8(v), all));
      _mm256_storeu_ps(y + i, fast8(v));
    }
    int tail_bad = _mm256_movemask_ps(bad);
    for (; i < hi; ++i) {
      y[i] = tail(x[i]);
      tail_bad |= !inside(x[i]);
    }
    outside |= tail_bad != 0;
  }
  if (!outside) return;
  for (int64_t i = 0; i < n; ++i) {
    if (!inside(x[i])) y[i] = exact(x[i]);
  }
}

// sin (quarter_turns 0) or cos (1) over x; inputs outside the fast range take libm.
void sine_fast(const float* x, float* y, int64_t n, int quarter_turns) {
  map8_with_fallback(
      x, y, n, [=](__m256 v) { return sin8(v, quarter_turns); },
      [](__m256 v) {  // false for NaN
        return _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), v),
                             _mm256_set1_ps(kFastSinLimit), _CMP_LE_OQ);
      },
      [=](float v) { return fast_sin_shifted(v, quarter_turns); },
      [](float v) { return std::fabs(v) <= kFastSinLimit; },
      [=](float v) { return quarter_turns ? std::cos(v) : std::sin(v); });
}

}  // namespace

void sin_fast(const float* x, float* y, int64_t n) { sine_fast(x, y, n, 0); }

void cos_fast(const float* x, float* y, int64_t n) { sine_fast(x, y, n, 1); }

void exp_fast(const float* x, float* y, int64_t n) {
  // exp8's range: below it std::exp is subnormal, above it infinite; those take libm.
  constexpr float kLow = -87.3365447f, kHigh = 88.3762626647949f;
  const auto exact = [](float v) { return std::exp(v); };
  map8_with_fallback(
      x, y, n, exp8,
      [](__m256 v) {
        return _mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(kLow), _CMP_GE_OQ),
                             _mm256_cmp_ps(v, _mm256_set1_ps(kHigh), _CMP_LE_OQ));
      },
      exact, [](float v) { return v >= kLow && v <= kHigh; }, exact);
}

}  // namespace amphora
