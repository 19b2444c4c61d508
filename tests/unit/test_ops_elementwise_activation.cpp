// The less common activations and math ops (elementwise_activation.cpp), PRelu, Sum and Mean.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();
const float kInf = std::numeric_limits<float>::infinity();

using namespace testing;

void expect_matches(const char* op, std::map<std::string, Attribute> attrs,
                    const std::vector<float>& values, const std::function<double(double)>& want) {
  Tensor x = Tensor::from_vector<float>({static_cast<int64_t>(values.size())}, values);
  Tensor y = run1(make_node(op, 1, std::move(attrs)), {&x});
  for (size_t i = 0; i < values.size(); ++i) {
    const double expected = want(values[i]);
    const float got = y.data<float>()[i];
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(got)) << op << "(" << values[i] << ")";
    } else {
      EXPECT_NEAR(got, expected, 1e-6 * std::max(1.0, std::fabs(expected)))
          << op << "(" << values[i] << ")";
    }
  }
}

TEST(Activation, TrigAndHyperbolic) {
  const std::vector<float> v = {-0.9f, -0.3f, 0.0f, 0.4f, 0.95f, kNaN};
  expect_matches("Tan", {}, v, [](double x) { return std::tan(x); });
  expect_matches("Asin", {}, v, [](double x) { return std::asin(x); });
  expect_matches("Acos", {}, v, [](double x) { return std::acos(x); });
  expect_matches("Sinh", {}, v, [](double x) { return std::sinh(x); });
  expect_matches("Cosh", {}, v, [](double x) { return std::cosh(x); });
  expect_matches("Asinh", {}, v, [](double x) { return std::asinh(x); });
  expect_matches("Atanh", {}, v, [](double x) { return std::atanh(x); });
  expect_matches("Acosh", {}, {1.0f, 1.5f, 10.0f, 0.5f}, [](double x) { return std::acosh(x); });
}

TEST(Activation, ParameterisedActivations) {
  const std::vector<float> v = {-100.0f, -2.0f, -0.5f, 0.0f, 0.5f, 3.0f, 100.0f, kNaN};
  expect_matches("Softplus", {}, v, [](double x) { return x > 30 ? x : std::log1p(std::exp(x)); });
  expect_matches("Softsign", {}, v, [](double x) { return x / (1 + std::fabs(x)); });
  expect_matches("Elu", {}, v, [](double x) { return x < 0 ? std::expm1(x) : x; });
  expect_matches("Elu", {{"alpha", 0.5f}}, v,
                 [](double x) { return x < 0 ? 0.5 * std::expm1(x) : x; });
  const double alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875;
  expect_matches("Selu", {}, v, [&](double x) {
    return x > 0 ? gamma * x : gamma * (alpha * std::exp(x) - alpha);
  });
  expect_matches("Celu", {{"alpha", 2.0f}}, v, [](double x) {
    return std::max(0.0, x) + std::min(0.0, 2.0 * std::expm1(x / 2.0));
  });
  expect_matches("HardSigmoid", {}, v,
                 [](double x) { return std::max(0.0, std::min(1.0, 0.2 * x + 0.5)); });
  expect_matches("HardSwish", {}, v,
                 [](double x) { return x * std::max(0.0, std::min(1.0, x / 6 + 0.5)); });
  expect_matches("ThresholdedRelu", {{"alpha", 0.4f}}, v,
                 [](double x) { return x > 0.4 ? x : 0.0; });
}

TEST(Activation, IsNaNAndIsInf) {
  Tensor x = Tensor::from_vector<float>({4}, {1.0f, kNaN, kInf, -kInf});
  EXPECT_EQ(run1(make_node("IsNaN", 1), {&x}).to_int64_vector(),
            (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_EQ(run1(make_node("IsInf", 1), {&x}).to_int64_vector(),
            (std::vector<int64_t>{0, 0, 1, 1}));
  Node negative_only = make_node("IsInf", 1, {{"detect_positive", int64_t{0}}});
  EXPECT_EQ(run1(negative_only, {&x}).to_int64_vector(), (std::vector<int64_t>{0, 0, 0, 1}));
  Tensor ints = Tensor::from_vector<int32_t>({1}, {1});
  expect_error([&] { run1(make_node("IsNaN", 1), {&ints}); }, ErrorCode::kUnsupported,
               {"IsNaN 'test_IsNaN'", "int32"});
}

TEST(Activation, PReluBroadcastsSlopeOntoX) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {-1, 2, -3, -4, 5, kNaN});
  Tensor slope = Tensor::from_vector<float>({2, 1}, {0.1f, 0.5f});
  Tensor y = run1(make_node("PRelu", 2), {&x, &slope});
  ASSERT_EQ(y.shape(), x.shape());
  std::vector<float> got = y.to_float_vector();
  EXPECT_FLOAT_EQ(got[0], -0.1f);
  EXPECT_FLOAT_EQ(got[2], -0.3f);
  EXPECT_FLOAT_EQ(got[3], -2.0f);
  EXPECT_EQ(got[4], 5.0f);
  EXPECT_TRUE(std::isnan(got[5]));
  Tensor wide = Tensor::from_vector<float>({2, 2, 3}, std::vector<float>(12, 0.1f));
  expect_error(
      [&] {
        run1(make_node("PRelu", 2), {&x, &wide});
      },
      ErrorCode::kInvalidArgument, {"PRelu", "[2, 2, 3]"});
}

TEST(Activation, VariadicSumAndMean) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<float>({2}, {10, 20});
  Tensor c = Tensor::scalar<float>(100.0f);
  EXPECT_EQ(run1(make_node("Sum", 3), {&a, &b, &c}).to_float_vector(),
            (std::vector<float>{111, 122, 113, 124}));
  EXPECT_EQ(run1(make_node("Mean", 2), {&b, &a}).to_float_vector(),
            (std::vector<float>{5.5f, 11, 6.5f, 12}));
  EXPECT_EQ(run1(make_node("Sum", 1), {&b}).to_float_vector(), (std::vector<float>{10, 20}));
  Tensor i = Tensor::from_vector<int64_t>({2}, {1, 2});
  expect_error(
      [&] {
        run1(make_node("Sum", 2), {&i, &i});
      },
      ErrorCode::kUnsupported, {"Sum", "int64"});
}

}  // namespace
}  // namespace amphora
