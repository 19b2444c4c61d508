#include "ops/elementwise_fast.hpp"

#include <cmath>

#include "ops/elementwise_common.hpp"

namespace amphora {

void erf_fast(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = fast_erf(x[i]);
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

}  // namespace amphora
