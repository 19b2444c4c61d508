// Vectorisable float32 forms of transcendental functions whose libm versions dominate a
// vocoder's element-wise time (Vocos: GELU's Erf was 14 % of a run). Each is a fast path beside
// the reference (libm) kernel and is tested against it (tests/unit/test_fused_elementwise.cpp).
#pragma once

#include <cstdint>

namespace amphora {

// erf(x) as a rational function of odd/even polynomials on x clamped to [-4, 4] (beyond which
// float erf is +-1): max abs error ~1e-7. The coefficients are Eigen's / XLA's ErfImpl32.
inline float fast_erf(float a) {
  // Written so that NaN falls through both tests and propagates, as std::erf does.
  const float x = a > 4.0f ? 4.0f : (a < -4.0f ? -4.0f : a);
  const float x2 = x * x;
  float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = x2 * p + -2.10102402082508e-06f;
  p = x2 * p + -5.69250639462346e-05f;
  p = x2 * p + -7.34990630326855e-04f;
  p = x2 * p + -2.95459980854025e-03f;
  p = x2 * p + -1.60960333262415e-02f;
  p = x * p;
  float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = x2 * q + -1.68282697438203e-03f;
  q = x2 * q + -7.37332916720468e-03f;
  q = x2 * q + -1.42647390514189e-02f;
  return p / q;
}

void erf_fast(const float* x, float* y, int64_t n);

}  // namespace amphora
