#include "ops/elementwise_fast.hpp"

#include "ops/elementwise_common.hpp"

namespace amphora {

void erf_fast(const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) y[i] = fast_erf(x[i]);
}

}  // namespace amphora
