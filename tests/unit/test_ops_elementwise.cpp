// Broadcasting, unary math/activations and binary arithmetic/compare/logic kernels, checked
// against values computed here with std:: math.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>

#include "op_test_util.hpp"
#include "ops/broadcast.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

using namespace testing;

TEST(Broadcast, ShapesFollowNumpyRules) {
  Node node = make_node("Add", 2);
  EXPECT_EQ(broadcast_shapes(node, {{2, 3, 4}, {3, 1}}), (Shape{2, 3, 4}));
  EXPECT_EQ(broadcast_shapes(node, {{}, {5}}), (Shape{5}));
  EXPECT_EQ(broadcast_shapes(node, {{2, 1}, {1, 3}, {1}}), (Shape{2, 3}));
  EXPECT_EQ(broadcast_shapes(node, {{0, 1}, {1, 3}}), (Shape{0, 3}));
  expect_error(
      [&] {
        broadcast_shapes(node, {{2, 3}, {4}});
      },
      ErrorCode::kInvalidArgument, {"Add 'test_Add'", "[2, 3]", "[4]"});
}

TEST(Broadcast, StridesAreZeroOnBroadcastAxes) {
  EXPECT_EQ(broadcast_strides({3, 1}, {2, 3, 4}), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(broadcast_strides({2, 3, 4}, {2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(broadcast_offsets(broadcast_strides({2, 1}, {2, 3}), {2, 3}),
            (std::vector<int64_t>{0, 0, 0, 1, 1, 1}));
}

struct UnaryCase {
  const char* op;
  std::function<double(double)> expected;
};

TEST(Unary, FloatOpsMatchStdMathAndPropagateNaN) {
  const std::vector<UnaryCase> cases = {
      {"Relu", [](double x) { return x < 0 ? 0 : x; }},
      {"Tanh", [](double x) { return std::tanh(x); }},
      {"Sigmoid", [](double x) { return 1 / (1 + std::exp(-x)); }},
      {"Sqrt", [](double x) { return std::sqrt(x); }},
      {"Exp", [](double x) { return std::exp(x); }},
      {"Log", [](double x) { return std::log(x); }},
      {"Sin", [](double x) { return std::sin(x); }},
      {"Cos", [](double x) { return std::cos(x); }},
      {"Atan", [](double x) { return std::atan(x); }},
      {"Erf", [](double x) { return std::erf(x); }},
      {"Neg", [](double x) { return -x; }},
      {"Abs", [](double x) { return std::fabs(x); }},
      {"Floor", [](double x) { return std::floor(x); }},
      {"Reciprocal", [](double x) { return 1 / x; }},
      {"LeakyRelu", [](double x) { return x < 0 ? 0.01 * x : x; }},
  };
  const std::vector<float> values = {-3.5f, -1.0f, -0.25f, 0.0f, 0.5f,
                                     2.0f,  7.25f, -100.f, 80.f, kNaN};
  Tensor x = Tensor::from_vector<float>({2, 5}, values);
  for (const auto& c : cases) {
    Tensor y = run1(make_node(c.op, 1), {&x});
    ASSERT_EQ(y.shape(), x.shape()) << c.op;
    ASSERT_EQ(y.dtype(), DType::kFloat32) << c.op;
    for (size_t i = 0; i < values.size(); ++i) {
      const float got = y.data<float>()[i];
      const double want = c.expected(values[i]);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << c.op << "(" << values[i] << ") = " << got;
      } else if (std::isinf(want)) {
        EXPECT_EQ(got, static_cast<float>(want)) << c.op << "(" << values[i] << ")";
      } else {
        EXPECT_NEAR(got, want, 1e-6 * std::max(1.0, std::fabs(want)))
            << c.op << "(" << values[i] << ")";
      }
    }
  }
}

TEST(Unary, RoundingAndSign) {
  Tensor x = Tensor::from_vector<float>({7}, {-2.5f, -1.5f, -0.2f, 0.5f, 1.5f, 2.5f, kNaN});
  std::vector<float> round = run1(make_node("Round", 1), {&x}).to_float_vector();
  EXPECT_EQ(std::vector<float>(round.begin(), round.end() - 1),
            (std::vector<float>{-2, -2, -0.0f, 0, 2, 2}));  // halves to even
  std::vector<float> ceil = run1(make_node("Ceil", 1), {&x}).to_float_vector();
  EXPECT_EQ(ceil[0], -2.0f);
  EXPECT_EQ(ceil[3], 1.0f);
  std::vector<float> sign = run1(make_node("Sign", 1), {&x}).to_float_vector();
  EXPECT_EQ(std::vector<float>(sign.begin(), sign.end() - 1),
            (std::vector<float>{-1, -1, -1, 1, 1, 1}));
  EXPECT_TRUE(std::isnan(sign.back()));
  Tensor i = Tensor::from_vector<int64_t>({3}, {-7, 0, 9});
  EXPECT_EQ(run1(make_node("Sign", 1), {&i}).to_int64_vector(), (std::vector<int64_t>{-1, 0, 1}));
}

TEST(Unary, LeakyReluReadsAlpha) {
  Tensor x = Tensor::from_vector<float>({3}, {-2.0f, 0.0f, 3.0f});
  Tensor y = run1(make_node("LeakyRelu", 1, {{"alpha", 0.2f}}), {&x});
  EXPECT_FLOAT_EQ(y.data<float>()[0], -0.4f);
  EXPECT_FLOAT_EQ(y.data<float>()[2], 3.0f);
}

TEST(Unary, IntegerNegAbsRelu) {
  Tensor x = Tensor::from_vector<int64_t>({4}, {-5, 0, 7, std::numeric_limits<int64_t>::min()});
  Tensor neg = run1(make_node("Neg", 1), {&x});
  EXPECT_EQ(neg.to_int64_vector(),
            (std::vector<int64_t>{5, 0, -7, std::numeric_limits<int64_t>::min()}));
  Tensor abs = run1(make_node("Abs", 1), {&x});
  EXPECT_EQ(abs.to_int64_vector()[0], 5);
  Tensor x32 = Tensor::from_vector<int32_t>({3}, {-5, 0, 7});
  Tensor relu = run1(make_node("Relu", 1), {&x32});
  EXPECT_EQ(relu.dtype(), DType::kInt32);
  EXPECT_EQ(relu.to_int64_vector(), (std::vector<int64_t>{0, 0, 7}));
}

TEST(Unary, UnsupportedDtypeNamesOpNodeAndDtype) {
  Tensor x = Tensor::from_vector<int64_t>({2}, {4, 9});
  Node node = make_node("Sqrt", 1);
  expect_error([&] { run1(node, {&x}); }, ErrorCode::kUnsupported,
               {"Sqrt 'test_Sqrt'", "int64", "in0"});
  Tensor f = Tensor::from_vector<float>({1}, {1.0f});
  expect_error([&] { run1(make_node("Not", 1), {&f}); }, ErrorCode::kUnsupported,
               {"Not", "float32"});
}

TEST(Unary, NotFlipsBools) {
  Tensor x = Tensor::from_vector<bool>({3}, {true, false, true});
  Tensor y = run1(make_node("Not", 1), {&x});
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{0, 1, 0}));
}

TEST(Binary, ArithmeticBroadcastsBothWays) {
  Tensor a = Tensor::from_vector<float>({2, 1}, {1.0f, 2.0f});
  Tensor b = Tensor::from_vector<float>({1, 3}, {10.0f, 20.0f, 40.0f});
  const std::vector<std::pair<const char*, std::function<float(float, float)>>> ops = {
      {"Add", std::plus<float>()},
      {"Sub", std::minus<float>()},
      {"Mul", std::multiplies<float>()},
      {"Div", std::divides<float>()},
      {"Pow", [](float x, float y) { return std::pow(x, y); }}};
  for (const auto& [op, fn] : ops) {
    Tensor y = run1(make_node(op, 2), {&a, &b});
    ASSERT_EQ(y.shape(), (Shape{2, 3})) << op;
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 3; ++j) {
        EXPECT_FLOAT_EQ(y.data<float>()[i * 3 + j], fn(a.data<float>()[i], b.data<float>()[j]))
            << op;
      }
    }
  }
  Tensor scalar = Tensor::scalar<float>(0.5f);
  Tensor z = run1(make_node("Sub", 2), {&scalar, &b});
  EXPECT_EQ(z.shape(), (Shape{1, 3}));
  EXPECT_FLOAT_EQ(z.data<float>()[2], -39.5f);
}

TEST(Binary, LargeBroadcastMatchesSerialLoop) {
  // Over the parallel threshold, with a middle broadcast axis.
  const int64_t n = 8, c = 64, t = 1000;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> av(n * c * t), bv(n * t);
  for (float& v : av) v = dist(rng);
  for (float& v : bv) v = dist(rng);
  Tensor a = Tensor::from_vector<float>({n, c, t}, av);
  Tensor b = Tensor::from_vector<float>({n, 1, t}, bv);
  Tensor y = run1(make_node("Mul", 2), {&a, &b});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < c; ++j)
      for (int64_t k = 0; k < t; ++k)
        ASSERT_EQ(y.data<float>()[(i * c + j) * t + k], av[(i * c + j) * t + k] * bv[i * t + k]);
}

TEST(Binary, IntegerArithmeticTruncatesAndRefusesZeroDivisor) {
  Tensor a = Tensor::from_vector<int64_t>({4}, {-7, 7, 9, -9});
  Tensor b = Tensor::from_vector<int64_t>({4}, {2, 2, -4, -4});
  EXPECT_EQ(run1(make_node("Div", 2), {&a, &b}).to_int64_vector(),
            (std::vector<int64_t>{-3, 3, -2, 2}));
  EXPECT_EQ(run1(make_node("Sub", 2), {&a, &b}).to_int64_vector(),
            (std::vector<int64_t>{-9, 5, 13, -5}));
  Tensor i32a = Tensor::from_vector<int32_t>({2}, {6, -6});
  Tensor i32b = Tensor::scalar<int32_t>(4);
  Tensor prod = run1(make_node("Mul", 2), {&i32a, &i32b});
  EXPECT_EQ(prod.dtype(), DType::kInt32);
  EXPECT_EQ(prod.to_int64_vector(), (std::vector<int64_t>{24, -24}));
  Tensor zero = Tensor::from_vector<int64_t>({4}, {1, 0, 1, 1});
  expect_error(
      [&] {
        run1(make_node("Div", 2), {&a, &zero});
      },
      ErrorCode::kInvalidArgument, {"Div", "division by zero"});
}

TEST(Binary, DtypeAndShapeErrors) {
  Tensor f = Tensor::from_vector<float>({2}, {1, 2});
  Tensor i = Tensor::from_vector<int64_t>({2}, {1, 2});
  expect_error(
      [&] {
        run1(make_node("Add", 2), {&f, &i});
      },
      ErrorCode::kInvalidArgument, {"Add", "int64", "float32"});
  Tensor b = Tensor::from_vector<bool>({2}, {true, false});
  expect_error(
      [&] {
        run1(make_node("Mul", 2), {&b, &b});
      },
      ErrorCode::kUnsupported, {"Mul 'test_Mul'", "bool"});
  Tensor three = Tensor::from_vector<float>({3}, {1, 2, 3});
  expect_error(
      [&] {
        run1(make_node("Add", 2), {&f, &three});
      },
      ErrorCode::kInvalidArgument, {"[2]", "[3]"});
  expect_error([&] { run1(make_node("Add", 2), {&f}); }, ErrorCode::kInvalidModel, {"Add"});
}

TEST(Binary, LegacyOneWayBroadcastBeforeOpset7) {
  Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor column = Tensor::from_vector<float>({2}, {10, 20});
  Node at_axis0 = make_node("Add", 2, {{"broadcast", int64_t{1}}, {"axis", int64_t{0}}});
  EXPECT_EQ(run1(at_axis0, {&a, &column}, 6).to_float_vector(),
            (std::vector<float>{11, 12, 13, 24, 25, 26}));
  Tensor row = Tensor::from_vector<float>({3}, {1, 0, -1});
  Node trailing = make_node("Mul", 2, {{"broadcast", int64_t{1}}});
  EXPECT_EQ(run1(trailing, {&a, &row}, 6).to_float_vector(),
            (std::vector<float>{1, 0, -3, 4, 0, -6}));
  // Without broadcast=1 the shapes must match, even where numpy rules would accept them.
  expect_error(
      [&] {
        run1(make_node("Add", 2), {&a, &row}, 6);
      },
      ErrorCode::kInvalidArgument, {"broadcast=0"});
  // The same node at opset 7 broadcasts numpy-style (axis 0 is ignored from then on).
  expect_error(
      [&] {
        run1(at_axis0, {&a, &column}, 7);
      },
      ErrorCode::kInvalidArgument, {"[2, 3]", "[2]"});
}

TEST(Binary, PowWithIntegerExponentAndIntegerBase) {
  Tensor base = Tensor::from_vector<float>({3}, {2.0f, -3.0f, 0.5f});
  Tensor exponent = Tensor::from_vector<int64_t>({3}, {3, 2, -1});
  Tensor y = run1(make_node("Pow", 2), {&base, &exponent});
  EXPECT_EQ(y.dtype(), DType::kFloat32);
  EXPECT_EQ(y.to_float_vector(), (std::vector<float>{8.0f, 9.0f, 2.0f}));
  Tensor ibase = Tensor::from_vector<int64_t>({2}, {3, -2});
  Tensor iexp = Tensor::from_vector<int64_t>({2}, {4, 3});
  EXPECT_EQ(run1(make_node("Pow", 2), {&ibase, &iexp}).to_int64_vector(),
            (std::vector<int64_t>{81, -8}));
  // Squaring is the exact product (ORT special-cases exponent 2 the same way).
  std::vector<float> odd = {1.1f, -3.3f, 0.7f, 123.456f};
  Tensor odd_base = Tensor::from_vector<float>({4}, odd);
  Tensor float_two = Tensor::scalar<float>(2.0f);
  Tensor squared = run1(make_node("Pow", 2), {&odd_base, &float_two});
  for (size_t i = 0; i < odd.size(); ++i) EXPECT_EQ(squared.data<float>()[i], odd[i] * odd[i]);
  Tensor nan_base = Tensor::from_vector<float>({1}, {kNaN});
  Tensor two = Tensor::scalar<float>(2.0f);
  EXPECT_TRUE(std::isnan(run1(make_node("Pow", 2), {&nan_base, &two}).data<float>()[0]));
}

TEST(Binary, ComparisonsAndLogicProduceBool) {
  Tensor a = Tensor::from_vector<float>({2, 2}, {1, 5, kNaN, 3});
  Tensor b = Tensor::from_vector<float>({2}, {1, 4});
  Tensor eq = run1(make_node("Equal", 2), {&a, &b});
  EXPECT_EQ(eq.dtype(), DType::kBool);
  EXPECT_EQ(eq.to_int64_vector(), (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(run1(make_node("Less", 2), {&a, &b}).to_int64_vector(),
            (std::vector<int64_t>{0, 0, 0, 1}));
  EXPECT_EQ(run1(make_node("Greater", 2), {&a, &b}).to_int64_vector(),
            (std::vector<int64_t>{0, 1, 0, 0}));
  Tensor ia = Tensor::from_vector<int64_t>({3}, {1, 2, 3});
  Tensor ib = Tensor::scalar<int64_t>(2);
  EXPECT_EQ(run1(make_node("Greater", 2), {&ia, &ib}).to_int64_vector(),
            (std::vector<int64_t>{0, 0, 1}));
  Tensor p = Tensor::from_vector<bool>({2, 1}, {true, false});
  Tensor q = Tensor::from_vector<bool>({2}, {true, false});
  EXPECT_EQ(run1(make_node("And", 2), {&p, &q}).to_int64_vector(),
            (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(run1(make_node("Equal", 2), {&p, &q}).to_int64_vector(),
            (std::vector<int64_t>{1, 0, 0, 1}));
  EXPECT_EQ(run1(make_node("Or", 2), {&p, &q}).to_int64_vector(),
            (std::vector<int64_t>{1, 1, 1, 0}));
  EXPECT_EQ(run1(make_node("Xor", 2), {&p, &q}).to_int64_vector(),
            (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(run1(make_node("GreaterOrEqual", 2), {&ia, &ib}).to_int64_vector(),
            (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(run1(make_node("LessOrEqual", 2), {&a, &b}).to_int64_vector(),
            (std::vector<int64_t>{1, 0, 0, 1}));
  expect_error(
      [&] {
        run1(make_node("And", 2), {&a, &a});
      },
      ErrorCode::kUnsupported, {"And", "float32"});
  expect_error(
      [&] {
        run1(make_node("Less", 2), {&p, &p});
      },
      ErrorCode::kUnsupported, {"Less", "bool"});
}

}  // namespace
}  // namespace amphora
