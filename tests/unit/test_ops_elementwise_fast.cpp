// Element-wise fast paths against their reference kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "op_test_util.hpp"
#include "ops/elementwise/elementwise_fast.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

// Runs `op` at `opset` on float32 `x` through its fast and its reference kernel: the reference
// must give libm's value exactly, the fast path stay within `tolerance` of it. Returns the fast
// path's output.
template <typename Libm>
Tensor expect_fast_kernel_near_libm(const std::string& op, int64_t opset, const Tensor& x,
                                    Libm libm, float tolerance) {
  const Node node = testing::make_node(op, {"x"});
  KernelOptions reference;
  reference.reference = true;
  Tensor fast = OpRegistry::instance().create(node, opset, {})->run({&x})[0];
  Tensor exact = OpRegistry::instance().create(node, opset, reference)->run({&x})[0];
  float worst = 0;
  int64_t first_not_libm = -1;
  for (int64_t i = 0; i < x.numel(); ++i) {
    worst = std::max(worst, std::fabs(fast.data<float>()[i] - exact.data<float>()[i]));
    if (first_not_libm < 0 && exact.data<float>()[i] != libm(x.data<float>()[i]))
      first_not_libm = i;
  }
  EXPECT_EQ(first_not_libm, -1) << op << ": the reference kernel differs from libm there";
  EXPECT_LT(worst, tolerance) << op;
  return fast;
}

TEST(FastErf, WithinOneMillionthOfStdErfEverywhere) {
  std::vector<float> x;
  for (float v = -10.0f; v <= 10.0f; v += 1e-3f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 3.9999f, 4.0f, 4.0001f, 1e30f, -1e30f}) {
    x.push_back(v);
  }
  std::vector<float> y(x.size());
  erf_fast(x.data(), y.data(), static_cast<int64_t>(x.size()));
  float worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(y[i] - std::erf(x[i])));
  EXPECT_LT(worst, 1e-6f);
  EXPECT_EQ(fast_erf(0.0f), 0.0f);
  EXPECT_FLOAT_EQ(fast_erf(10.0f), 1.0f);
  EXPECT_FLOAT_EQ(fast_erf(-10.0f), -1.0f);
  EXPECT_TRUE(std::isnan(fast_erf(std::nanf(""))));
}

TEST(FastErf, ErfKernelFastAndReferencePathsAgree) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  Tensor x(DType::kFloat32, {3, 70001});  // large enough to go parallel
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  expect_fast_kernel_near_libm(
      "Erf", 13, x, [](float v) { return std::erf(v); }, 1e-6f);
  Tensor d(DType::kFloat64, {4});
  for (int64_t i = 0; i < 4; ++i) d.data<double>()[i] = 0.5 * static_cast<double>(i);
  Tensor e = OpRegistry::instance().create(testing::make_node("Erf", {"x"}), 13, {})->run({&d})[0];
  EXPECT_DOUBLE_EQ(e.data<double>()[3], std::erf(1.5));
}

TEST(FastTanh, WithinOneMillionthOfStdTanhEverywhere) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 1e-3f) x.push_back(v);
  for (float v : {0.0f, -0.0f, 1e-30f, 7.9053f, 7.9054f, 1e30f, -1e30f}) x.push_back(v);
  std::vector<float> y(x.size());
  tanh_fast(x.data(), y.data(), static_cast<int64_t>(x.size()));
  float worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, std::fabs(y[i] - std::tanh(x[i])));
    ASSERT_LE(std::fabs(y[i]), 1.0f) << x[i];  // a waveform never leaves [-1, 1]
  }
  EXPECT_LT(worst, 1e-6f);
  EXPECT_EQ(fast_tanh(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(fast_tanh(std::nanf(""))));
  Tensor t = Tensor::from_vector<float>({4}, {-3.0f, -0.5f, 0.25f, 20.0f});
  expect_fast_kernel_near_libm(
      "Tanh", 13, t, [](float v) { return std::tanh(v); }, 1e-6f);
}

TEST(FastSin, WithinAFewTenMillionthsOfStdSinAndLibmBeyondItsRange) {
  std::vector<float> x;
  for (float v = -20.0f; v <= 20.0f; v += 1e-3f) x.push_back(v);
  for (float v = -1e4f; v <= 1e4f; v += 0.37f) x.push_back(v);
  const float specials[] = {0.0f,    -0.0f, 1e-30f,    1.5707964f, 3.1415927f, -4.712389f,
                            9999.9f, 1e4f,  1.0001e4f, 1e5f,       -3e7f,      1e30f};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  std::vector<float> y(x.size());
  sin_fast(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, std::fabs(double{y[i]} - std::sin(double{x[i]})));
    // Beyond the fast range the libm value itself is used.
    if (std::fabs(x[i]) > kFastSinLimit) {
      ASSERT_EQ(y[i], std::sin(x[i])) << x[i];
    }
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(fast_sin(0.0f), 0.0f);
  const float odd[] = {std::nanf(""), std::numeric_limits<float>::infinity()};
  float out[2];
  sin_fast(odd, out, 2);
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]));
}

TEST(FastSin, SinKernelFastAndReferencePathsAgree) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 30.0f);
  Tensor x(DType::kFloat32, {2, 90001});  // large enough to go parallel
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  x.data<float>()[5] = 2e5f;  // one input for the libm pass
  const Tensor fast = expect_fast_kernel_near_libm(
      "Sin", 7, x, [](float v) { return std::sin(v); }, 3e-7f);
  EXPECT_EQ(fast.data<float>()[5], std::sin(2e5f));
}

// The cosine is the sine one quadrant on: the same error bound over the same inputs.
TEST(FastCos, WithinAFewTenMillionthsOfStdCosAndLibmBeyondItsRange) {
  std::vector<float> x;
  for (float v = -20.0f; v <= 20.0f; v += 1e-3f) x.push_back(v);
  for (float v = -1e4f; v <= 1e4f; v += 0.37f) x.push_back(v);
  const float specials[] = {0.0f,    -0.0f, 1e-30f,    1.5707964f, 3.1415927f, -4.712389f,
                            9999.9f, 1e4f,  1.0001e4f, 1e5f,       -3e7f,      1e30f};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  std::vector<float> y(x.size());
  cos_fast(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    worst = std::max(worst, std::fabs(double{y[i]} - std::cos(double{x[i]})));
    if (std::fabs(x[i]) > kFastSinLimit) {
      ASSERT_EQ(y[i], std::cos(x[i])) << x[i];
    }
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(fast_cos(0.0f), 1.0f);
  const float odd[] = {std::nanf(""), -std::numeric_limits<float>::infinity()};
  float out[2];
  cos_fast(odd, out, 2);
  EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]));
}

TEST(FastCos, CosKernelFastAndReferencePathsAgree) {
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(0.0f, 30.0f);
  Tensor x(DType::kFloat32, {2, 90001});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = normal(rng);
  x.data<float>()[5] = -2e5f;
  const Tensor fast = expect_fast_kernel_near_libm(
      "Cos", 7, x, [](float v) { return std::cos(v); }, 3e-7f);
  EXPECT_EQ(fast.data<float>()[5], std::cos(-2e5f));
}

// Exp through exp8 within 2 ulp (relative) of std::exp, libm outside exp8's range (subnormal
// and infinite results), NaN kept; ragged lengths exercise the scalar tail.
TEST(FastExp, WithinTwoUlpOfStdExpAndLibmBeyondItsRange) {
  std::vector<float> x;
  for (float v = -90.0f; v <= 90.0f; v += 1.7e-3f) x.push_back(v);
  const float specials[] = {0.0f, -0.0f, 1e-30f, -87.34f, -87.3366f, 88.37f, 88.7f, 89.0f,
                            -100.0f, std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), std::nanf("")};
  x.insert(x.end(), std::begin(specials), std::end(specials));
  std::vector<float> y(x.size());
  exp_fast(x.data(), y.data(), static_cast<int64_t>(x.size()));
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = std::exp(x[i]);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(y[i])) << x[i];
    } else if (!(x[i] >= -87.3365447f && x[i] <= 88.3762626647949f)) {
      ASSERT_EQ(y[i], want) << x[i];
    } else {
      worst = std::max(worst, std::fabs(double{y[i]} - want) / want);
    }
  }
  EXPECT_LT(worst, 2.5e-7);
  Tensor t(DType::kFloat32, {3, 30001});  // large enough to go parallel
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);  // |e^x| < ~400: 2 ulp < 1e-4
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(rng);
  t.data<float>()[7] = 95.0f;
  const Tensor fast = expect_fast_kernel_near_libm(
      "Exp", 13, t, [](float v) { return std::exp(v); }, 1e-4f);
  EXPECT_EQ(fast.data<float>()[7], std::exp(95.0f));
}

// The vectorised Relu/LeakyRelu row against `v >= 0 ? v : v * slope`, bit for bit: signed
// zeros, NaN, infinities and ragged lengths, out of place and in place.
TEST(LeakyReluRow, BitIdenticalToTheScalarDefinition) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const float inf = std::numeric_limits<float>::infinity();
  for (float slope : {0.0f, 0.01f, 0.2f, 1.0f}) {
    for (int64_t n : {0, 1, 7, 8, 9, 63, 1000}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (auto& v : x) v = normal(rng);
      const std::vector<float> specials = {0.0f, -0.0f, std::nanf(""), inf, -inf, -1e-38f};
      for (size_t i = 0; i < x.size() && i < specials.size(); ++i)
        x[i * 5 % x.size()] = specials[i];
      std::vector<float> want(x.size()), got(x.size(), 7.0f), in_place = x;
      for (size_t i = 0; i < x.size(); ++i) want[i] = x[i] >= 0.0f ? x[i] : x[i] * slope;
      leaky_relu_row(x.data(), got.data(), n, slope);
      leaky_relu_row(in_place.data(), in_place.data(), n, slope);
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(std::memcmp(&got[i], &want[i], sizeof(float)), 0)
            << "slope " << slope << " n " << n << " at " << i << ": " << x[i];
        ASSERT_EQ(std::memcmp(&in_place[i], &want[i], sizeof(float)), 0) << "in place, at " << i;
      }
    }
  }
}

}  // namespace
}  // namespace amphora
