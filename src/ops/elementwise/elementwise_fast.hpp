// Vectorisable float32 forms of transcendental functions whose libm versions dominate a
// vocoder's element-wise time (Vocos: GELU's Erf was 14 % of a run). Each is a fast path beside
// the reference (libm) kernel and is tested against it (tests/unit/test_ops_elementwise_fast.cpp).
#pragma once

#include <cmath>
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

// y = x >= 0 ? x : x * slope (Relu for slope 0, LeakyRelu otherwise; y may be x), on the calling
// thread, in AVX2 compare-and-blend: written as a plain loop the compiler keeps the branch, which
// random signs mispredict half the time (a vocoder's last conv spent 80 % of its time there).
void leaky_relu_row(const float* x, float* y, int64_t n, float slope);

// Inputs with |x| up to this take fast_sin; beyond it the three-part reduction loses accuracy.
inline constexpr float kFastSinLimit = 1e4f;

// sin(x) for |x| <= kFastSinLimit: x = k*pi/2 + r with pi/2 in three parts (Cody-Waite, each
// part short enough that k*part is exact), then the sine or cosine minimax polynomial on
// |r| <= pi/4 picked by the quadrant k mod 4. Max abs error ~1e-7 (BigVGAN's Snake: Sin was
// 13 % of a run with libm). Other inputs (huge, infinite, NaN) give 0, for the caller to
// replace with libm's value: converting their k to int would be undefined.
// `quarter_turns` adds that many pi/2 to x exactly (by the quadrant): 1 gives cos(x).
inline float fast_sin_shifted(float in, int quarter_turns) {
  const float a = std::fabs(in) <= kFastSinLimit ? in : 0.0f;  // NaN fails the test too
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float k = (a * 0.636619772f + kRound) - kRound;
  const float r = ((a - k * 1.5703125f) - k * 4.837512969970703e-4f) - k * 7.549790126404332e-8f;
  const float r2 = r * r;
  const float s =
      r + r * r2 * (-1.6666654611e-1f + r2 * (8.3321608736e-3f - r2 * 1.9515295891e-4f));
  const float c =
      1.0f - 0.5f * r2 +
      r2 * r2 *
          (4.166664568298827e-2f + r2 * (-1.388731625493765e-3f + r2 * 2.443315711809948e-5f));
  const int quadrant = (static_cast<int>(k) + quarter_turns) & 3;
  const float v = (quadrant & 1) ? c : s;
  return (quadrant & 2) ? -v : v;
}

inline float fast_sin(float in) { return fast_sin_shifted(in, 0); }

// cos(x) for |x| <= kFastSinLimit, the same way (the quadrant one further); max abs error ~1e-7.
inline float fast_cos(float in) { return fast_sin_shifted(in, 1); }

void sin_fast(const float* x, float* y, int64_t n);
void cos_fast(const float* x, float* y, int64_t n);  // Vocos' phase -> spectrum

// e^x through exp8 (avx2_lanes.hpp, within 2 ulp), libm outside its range [-87.34, 88.38].
void exp_fast(const float* x, float* y, int64_t n);

// tanh(x) as a rational function, an odd degree-13 polynomial over an even degree-6 one, on x
// clamped to +-7.9053111 (beyond which float tanh is +-1): max abs error ~1e-7. The
// coefficients are Eigen's generic_fast_tanh_float. (A vocoder's final tanh over the waveform
// was most of its last conv's time with libm.)
inline float fast_tanh(float a) {
  constexpr float kClamp = 7.90531110763549805f;
  const float x = a > kClamp ? kClamp : (a < -kClamp ? -kClamp : a);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return p / q;
}

void tanh_fast(const float* x, float* y, int64_t n);

}  // namespace amphora
