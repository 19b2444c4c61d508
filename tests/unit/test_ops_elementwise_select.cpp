// Min/Max, Clip (both opset forms), Where and Cast.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

using namespace testing;

TEST(MinMax, VariadicWithBroadcastAndNaN) {
  Tensor a = Tensor::from_vector<float>({2, 3}, {1, 8, 3, kNaN, 0, 9});
  Tensor b = Tensor::from_vector<float>({3}, {2, 2, 2});
  Tensor c = Tensor::scalar<float>(5.0f);
  Node max = make_node("Max", {"a", "b", "c"});
  Tensor y = run1(max, {&a, &b, &c});
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  std::vector<float> got = y.to_float_vector();
  EXPECT_EQ(got[0], 5.0f);
  EXPECT_EQ(got[1], 8.0f);
  EXPECT_TRUE(std::isnan(got[3]));
  EXPECT_EQ(got[5], 9.0f);
  Tensor z = run1(make_node("Min", {"a", "b", "c"}), {&a, &b, &c});
  EXPECT_EQ(z.to_float_vector()[1], 2.0f);
  EXPECT_EQ(z.to_float_vector()[4], 0.0f);
  EXPECT_TRUE(std::isnan(z.to_float_vector()[3]));
  // One input: a copy. Broadcast of a smaller first input still gives the full shape.
  EXPECT_EQ(run1(make_node("Max", {"b"}), {&b}).to_float_vector(), (std::vector<float>{2, 2, 2}));
  Tensor w = run1(make_node("Min", {"b", "a"}), {&b, &a});
  EXPECT_EQ(w.shape(), (Shape{2, 3}));
  EXPECT_EQ(w.to_float_vector()[2], 2.0f);
}

TEST(MinMax, IntegersAndDtypeMismatch) {
  Tensor a = Tensor::from_vector<int32_t>({3}, {-4, 10, 3});
  Tensor b = Tensor::from_vector<int32_t>({3}, {0, 2, 3});
  Tensor y = run1(make_node("Max", {"a", "b"}), {&a, &b});
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{0, 10, 3}));
  Tensor f = Tensor::from_vector<float>({3}, {0, 2, 3});
  expect_error(
      [&] {
        run1(make_node("Min", {"a", "f"}), {&a, &f});
      },
      ErrorCode::kInvalidArgument, {"Min 'test_Min'", "float32", "int32"});
}

TEST(Clip, OptionalBoundInputs) {
  Tensor x = Tensor::from_vector<float>({5}, {-3, -0.5f, 0.5f, 4, kNaN});
  Tensor lo = Tensor::scalar<float>(-1.0f);
  Tensor hi = Tensor::scalar<float>(1.0f);
  std::vector<float> both =
      run1(make_node("Clip", {"x", "lo", "hi"}), {&x, &lo, &hi}, 13).to_float_vector();
  EXPECT_EQ(std::vector<float>(both.begin(), both.begin() + 4),
            (std::vector<float>{-1, -0.5f, 0.5f, 1}));
  EXPECT_TRUE(std::isnan(both[4]));
  // Empty min (absent input): only the upper bound applies.
  std::vector<float> upper =
      run1(make_node("Clip", {"x", "", "hi"}), {&x, nullptr, &hi}, 13).to_float_vector();
  EXPECT_EQ(upper[0], -3.0f);
  EXPECT_EQ(upper[3], 1.0f);
  std::vector<float> lower = run1(make_node("Clip", {"x", "lo"}), {&x, &lo}, 13).to_float_vector();
  EXPECT_EQ(lower[0], -1.0f);
  EXPECT_EQ(lower[3], 4.0f);
  EXPECT_EQ(run1(make_node("Clip", {"x"}), {&x}, 13).to_float_vector()[0], -3.0f);
  // min > max: everything becomes max.
  std::vector<float> crossed =
      run1(make_node("Clip", {"x", "hi", "lo"}), {&x, &hi, &lo}, 13).to_float_vector();
  EXPECT_EQ(crossed[0], -1.0f);
  EXPECT_EQ(crossed[3], -1.0f);
  Tensor i8 = Tensor::from_vector<int8_t>({3}, {-100, 5, 100});
  Tensor i8hi = Tensor::scalar<int8_t>(10);
  EXPECT_EQ(run1(make_node("Clip", {"x", "", "hi"}), {&i8, nullptr, &i8hi}, 13).to_int64_vector(),
            (std::vector<int64_t>{-100, 5, 10}));
  Tensor vector_bound = Tensor::from_vector<float>({2}, {0, 1});
  expect_error(
      [&] {
        run1(make_node("Clip", {"x", "lo"}), {&x, &vector_bound}, 13);
      },
      ErrorCode::kInvalidArgument, {"Clip", "scalar", "[2]"});
}

TEST(Clip, AttributesBeforeOpset11) {
  Tensor x = Tensor::from_vector<float>({4}, {-3, -0.5f, 0.5f, 4});
  Node node = make_node("Clip", {"x"}, {{"min", -1.0f}, {"max", 2.0f}});
  EXPECT_EQ(run1(node, {&x}, 6).to_float_vector(), (std::vector<float>{-1, -0.5f, 0.5f, 2}));
  Node only_max = make_node("Clip", {"x"}, {{"max", 0.0f}});
  EXPECT_EQ(run1(only_max, {&x}, 6).to_float_vector(), (std::vector<float>{-3, -0.5f, 0, 0}));
}

TEST(Where, BroadcastsConditionAndValues) {
  Tensor cond = Tensor::from_vector<bool>({2, 1}, {true, false});
  Tensor x = Tensor::from_vector<int64_t>({3}, {1, 2, 3});
  Tensor y = Tensor::scalar<int64_t>(-1);
  Tensor out = run1(make_node("Where", {"c", "x", "y"}), {&cond, &x, &y});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(out.to_int64_vector(), (std::vector<int64_t>{1, 2, 3, -1, -1, -1}));
  Tensor cond2 = Tensor::from_vector<bool>({3}, {true, false, true});
  Tensor fx = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor fy = Tensor::from_vector<float>({2, 1}, {-1, -2});
  EXPECT_EQ(run1(make_node("Where", {"c", "x", "y"}), {&cond2, &fx, &fy}).to_float_vector(),
            (std::vector<float>{1, -1, 3, 4, -2, 6}));
  Tensor not_bool = Tensor::from_vector<float>({3}, {1, 0, 1});
  expect_error(
      [&] {
        run1(make_node("Where", {"c", "x", "y"}), {&not_bool, &fx, &fx});
      },
      ErrorCode::kUnsupported, {"Where 'test_Where'", "float32", "'c'"});
  expect_error(
      [&] {
        run1(make_node("Where", {"c", "x", "y"}), {&cond2, &fx, &x});
      },
      ErrorCode::kInvalidArgument, {"Where", "int64"});
}

Tensor cast(const Tensor& x, int to) {
  return run1(make_node("Cast", {"x"}, {{"to", int64_t{to}}}), {&x}, 13);
}

TEST(Cast, FloatToIntTruncatesTowardZero) {
  Tensor x = Tensor::from_vector<float>({6}, {-1.7f, 2.9f, -0.2f, 300.5f, kNaN, 1e20f});
  Tensor i32 = cast(x, 6);
  EXPECT_EQ(i32.dtype(), DType::kInt32);
  EXPECT_EQ(i32.to_int64_vector(),
            (std::vector<int64_t>{-1, 2, 0, 300, 0, std::numeric_limits<int32_t>::max()}));
  EXPECT_EQ(cast(x, 7).to_int64_vector()[3], 300);
  Tensor b = cast(x, 9);
  EXPECT_EQ(b.dtype(), DType::kBool);
  EXPECT_EQ(b.to_int64_vector(), (std::vector<int64_t>{1, 1, 1, 1, 1, 1}));
}

TEST(Cast, BetweenOtherTypes) {
  Tensor flags = Tensor::from_vector<bool>({2}, {true, false});
  EXPECT_EQ(cast(flags, 1).to_float_vector(), (std::vector<float>{1, 0}));
  Tensor i = Tensor::from_vector<int64_t>({3}, {-2, 0, 260});
  EXPECT_EQ(cast(i, 1).to_float_vector(), (std::vector<float>{-2, 0, 260}));
  EXPECT_EQ(cast(i, 2).to_int64_vector(), (std::vector<int64_t>{254, 0, 4}));  // uint8 wraps
  Tensor d = Tensor::from_vector<double>({1}, {0.1});
  Tensor f = cast(d, 1);
  EXPECT_EQ(f.data<float>()[0], 0.1f);
  Tensor back = cast(f, 11);
  EXPECT_EQ(back.data<double>()[0], static_cast<double>(0.1f));
  Tensor same = cast(f, 1);
  EXPECT_EQ(same.to_float_vector(), f.to_float_vector());
}

TEST(Cast, UnsupportedTargetIsRefusedAtCreation) {
  expect_error(
      [] {
        OpRegistry::instance().create(make_node("Cast", {"x"}, {{"to", int64_t{10}}}), 13, {});
      },
      ErrorCode::kUnsupported, {"Cast 'test_Cast'", "10"});
}

TEST(Registry, OpsetRangesOfFamily) {
  const OpRegistry& r = OpRegistry::instance();
  for (const char* op :
       {"LeakyRelu", "Relu", "Tanh",    "Sigmoid",    "Add",  "Sub", "Mul",  "Div",
        "Pow",       "Sqrt", "Exp",     "Log",        "Sin",  "Cos", "Atan", "Erf",
        "Neg",       "Abs",  "Floor",   "Reciprocal", "Clip", "Min", "Max",  "Where",
        "Equal",     "Less", "Greater", "Not",        "And",  "Cast"}) {
    EXPECT_TRUE(r.supports("", op, 17)) << op;
  }
  EXPECT_FALSE(r.supports("", "Where", 8));
  EXPECT_TRUE(r.supports("ai.onnx", "Clip", 6));
}

}  // namespace
}  // namespace amphora
