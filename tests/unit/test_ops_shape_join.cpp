// Concat, Split, Tile, Expand and the tensor-creating ops Constant, ConstantOfShape, Range.
// Expected values are computed here by plain index loops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

using namespace testing;

TEST(Concat, MiddleAxisWithAnEmptyInput) {
  Tensor a = iota_float({2, 1, 3}, 0), b = iota_float({2, 2, 3}, 100),
         empty(DType::kFloat32, {2, 0, 3});
  Tensor y = run_op(make_node("Concat", 3, {{"axis", int64_t{-2}}}), {&a, &empty, &b}, 13)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 3}));
  std::vector<float> got = y.to_float_vector();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t t = 0; t < 3; ++t) {
        float want = c == 0 ? static_cast<float>(n * 3 + t)
                            : static_cast<float>(100 + (n * 2 + c - 1) * 3 + t);
        EXPECT_EQ(got[static_cast<size_t>((n * 3 + c) * 3 + t)], want);
      }
}

TEST(Concat, MismatchedShapesOrDtypesAreRefused) {
  Tensor a = iota_float({2, 3}), b = iota_float({3, 3});
  expect_error(
      [&] {
        run_op(make_node("Concat", 2, {{"axis", int64_t{1}}}), {&a, &b}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "[3, 3]"});
  Tensor c = Tensor::from_vector<int64_t>({2, 1}, {1, 2});
  expect_error(
      [&] {
        run_op(make_node("Concat", 2, {{"axis", int64_t{1}}}), {&a, &c}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "int64"});
}

TEST(Split, SizesFromAttributeInputOrEqualParts) {
  Tensor x = iota_float({2, 6});
  auto widths = [](const std::vector<Tensor>& parts) {
    std::vector<int64_t> w;
    for (const Tensor& p : parts) w.push_back(p.dim(1));
    return w;
  };
  Node attr_node =
      make_node("Split", 1, {{"axis", int64_t{1}}, {"split", std::vector<int64_t>{1, 2, 3}}}, 3);
  std::vector<Tensor> parts = run_op(attr_node, {&x}, 11);
  EXPECT_EQ(widths(parts), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(parts[2].to_float_vector(), (std::vector<float>{3, 4, 5, 9, 10, 11}));

  Tensor split = ints({4, 2});
  parts = run_op(make_node("Split", 2, {{"axis", int64_t{-1}}}, 2), {&x, &split}, 13);
  EXPECT_EQ(widths(parts), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(parts[1].to_float_vector(), (std::vector<float>{4, 5, 10, 11}));

  parts = run_op(make_node("Split", 2, {{"axis", int64_t{1}}}, 3), {&x, nullptr}, 13);
  EXPECT_EQ(widths(parts), (std::vector<int64_t>{2, 2, 2}));
}

TEST(Split, UnevenLastChunkOnlySinceOpset18) {
  Tensor x = iota_float({1, 7});
  Node node = make_node("Split", 1, {{"axis", int64_t{1}}, {"num_outputs", int64_t{3}}}, 3);
  std::vector<Tensor> parts = run_op(node, {&x}, 18);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].to_float_vector(), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(parts[2].to_float_vector(), (std::vector<float>{6}));
  expect_error(
      [&] {
        run_op(make_node("Split", 1, {{"axis", int64_t{1}}}, 3), {&x}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "cannot be split"});
  Tensor wrong = ints({3, 3});
  expect_error(
      [&] {
        run_op(make_node("Split", 2, {{"axis", int64_t{1}}}, 2), {&x, &wrong}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "do not cut"});
}

TEST(Tile, RepeatsEveryAxis) {
  Tensor x = Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4});
  Tensor repeats = ints({2, 3});
  Tensor y = run_op(make_node("Tile", 2), {&x, &repeats}, 13)[0];
  ASSERT_EQ(y.shape(), (Shape{4, 6}));
  const int32_t* out = y.data<int32_t>();
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(out[i * 6 + j], (i % 2) * 2 + (j % 2) + 1);
  Tensor absurd = ints({INT64_MAX, 1});
  expect_error(
      [&] {
        run_op(make_node("Tile", 2), {&x, &absurd}, 13);
      },
      ErrorCode::kOutOfRange, {"test_", "absurdly large"});
  Tensor short_repeats = ints({2});
  expect_error(
      [&] {
        run_op(make_node("Tile", 2), {&x, &short_repeats}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "repeats"});
}

TEST(Expand, BroadcastsBothWays) {
  Tensor x = iota_float({3, 1});
  Tensor shape = ints({2, 1, 4});  // the 1 keeps x's 3: bidirectional broadcast
  Tensor y = run_op(make_node("Expand", 2), {&x, &shape}, 13)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4}));
  std::vector<float> got = y.to_float_vector();
  for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], static_cast<float>((k / 4) % 3));
  Tensor bad = ints({2, 4});
  EXPECT_THROW(run_op(make_node("Expand", 2), {&x, &bad}, 13), Error);
}

TEST(Constant, EveryValueAttributeForm) {
  auto value_of = [](std::map<std::string, Attribute> attrs) {
    return run_op(make_node("Constant", 0, std::move(attrs)), {}, 13)[0];
  };
  Tensor t = value_of({{"value", Tensor::from_vector<int32_t>({2}, {7, 8})}});
  EXPECT_EQ(t.dtype(), DType::kInt32);
  EXPECT_EQ(t.to_int64_vector(), (std::vector<int64_t>{7, 8}));
  Tensor f = value_of({{"value_float", 2.5f}});
  EXPECT_EQ(f.shape(), Shape{});
  EXPECT_EQ(f.to_float_vector()[0], 2.5f);
  Tensor fs = value_of({{"value_floats", std::vector<float>{1, 2, 3}}});
  EXPECT_EQ(fs.shape(), Shape{3});
  Tensor i = value_of({{"value_int", int64_t{-4}}});
  EXPECT_EQ(i.dtype(), DType::kInt64);
  EXPECT_EQ(i.to_int64_vector()[0], -4);
  Tensor is = value_of({{"value_ints", std::vector<int64_t>{5, 6}}});
  EXPECT_EQ(is.to_int64_vector(), (std::vector<int64_t>{5, 6}));
  expect_error([&] { value_of({}); }, ErrorCode::kInvalidModel, {"test_", "no value"});
}

TEST(ConstantOfShape, DefaultFloatZeroOrTheValueDtype) {
  Tensor shape = ints({2, 3});
  Tensor zeros = run_op(make_node("ConstantOfShape", 1), {&shape}, 9)[0];
  EXPECT_EQ(zeros.dtype(), DType::kFloat32);
  EXPECT_EQ(zeros.to_float_vector(), std::vector<float>(6, 0.0f));
  Node node = make_node("ConstantOfShape", 1, {{"value", Tensor::from_vector<int64_t>({1}, {9})}});
  Tensor nines = run_op(node, {&shape}, 9)[0];
  EXPECT_EQ(nines.dtype(), DType::kInt64);
  EXPECT_EQ(nines.to_int64_vector(), std::vector<int64_t>(6, 9));
  Tensor empty_dim = ints({0, 4});
  EXPECT_EQ(run_op(node, {&empty_dim}, 9)[0].numel(), 0);
  Tensor scalar_shape(DType::kInt64, {0});
  EXPECT_EQ(run_op(node, {&scalar_shape}, 9)[0].shape(), Shape{});
}

TEST(Range, IntegerAndFloatCounts) {
  Tensor start = Tensor::scalar<int64_t>(10), limit = Tensor::scalar<int64_t>(-7),
         delta = Tensor::scalar<int64_t>(-3);
  Tensor y = run_op(make_node("Range", 3), {&start, &limit, &delta}, 11)[0];
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{10, 7, 4, 1, -2, -5}));

  Tensor fs = Tensor::scalar<float>(0.5f), fl = Tensor::scalar<float>(2.0f),
         fd = Tensor::scalar<float>(0.4f);
  std::vector<float> got = run_op(make_node("Range", 3), {&fs, &fl, &fd}, 11)[0].to_float_vector();
  ASSERT_EQ(got.size(), 4u);  // ceil(1.5 / 0.4) = 4
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], 0.5f + 0.4f * static_cast<float>(i), 1e-6);
  // Long float ramps accumulate delta in float32 step by step, as ONNX Runtime does.
  Tensor ls = Tensor::scalar<float>(0.1f), ll = Tensor::scalar<float>(3000.3f),
         ld = Tensor::scalar<float>(0.1f);
  std::vector<float> ramp = run_op(make_node("Range", 3), {&ls, &ll, &ld}, 11)[0].to_float_vector();
  ASSERT_EQ(ramp.size(), 30003u);  // ceil((3000.3f - 0.1f) / 0.1f) evaluated in double
  float value = 0.1f;
  for (size_t i = 0; i < ramp.size(); value += 0.1f, ++i) ASSERT_EQ(ramp[i], value) << i;

  Tensor twenty = Tensor::scalar<int64_t>(20), one = Tensor::scalar<int64_t>(1);
  EXPECT_EQ(run_op(make_node("Range", 3), {&twenty, &start, &one}, 11)[0].numel(), 0);
  Tensor zero = Tensor::scalar<int64_t>(0);
  expect_error(
      [&] {
        run_op(make_node("Range", 3), {&start, &limit, &zero}, 11);
      },
      ErrorCode::kInvalidArgument, {"test_", "delta is 0"});
  Tensor huge = Tensor::scalar<int64_t>(INT64_MAX);
  expect_error(
      [&] {
        run_op(make_node("Range", 3), {&zero, &huge, &one}, 11);
      },
      ErrorCode::kOutOfRange, {"test_", "too many"});
}

}  // namespace
}  // namespace amphora
