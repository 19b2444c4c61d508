#include "ops/elementwise/elementwise_fast.hpp"

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

void sin_fast(const float* x, float* y, int64_t n) {
  bool outside = false;  // NaN, infinities and huge inputs: libm, in a second (rare) pass
#pragma omp parallel for simd schedule(static) reduction(|| : outside) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) {
    y[i] = fast_sin(x[i]);
    outside = outside || !(std::fabs(x[i]) <= kFastSinLimit);
  }
  if (!outside) return;
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::fabs(x[i]) <= kFastSinLimit)) y[i] = std::sin(x[i]);
  }
}

void cos_fast(const float* x, float* y, int64_t n) {
  bool outside = false;
#pragma omp parallel for simd schedule(static) reduction(|| : outside) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) {
    y[i] = fast_cos(x[i]);
    outside = outside || !(std::fabs(x[i]) <= kFastSinLimit);
  }
  if (!outside) return;
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::fabs(x[i]) <= kFastSinLimit)) y[i] = std::cos(x[i]);
  }
}

}  // namespace amphora
