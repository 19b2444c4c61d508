// Shape-only and indexing ops: Reshape, Squeeze, Unsqueeze, Flatten, Identity, Dropout, Shape,
// Transpose, Gather, Slice. Expected values are computed here by plain index loops.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

using namespace testing;

TEST(Reshape, CopiesZeroInfersMinusOneAndSharesBuffer) {
  Tensor x = iota_float({2, 3, 4});
  Tensor shape = ints({0, -1, 2});
  Tensor y = run_op(make_node("Reshape", 2), {&x, &shape}, 14)[0];
  EXPECT_EQ(y.shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(y.raw(), x.raw());
  EXPECT_EQ(y.to_float_vector(), x.to_float_vector());
}

TEST(Reshape, AllowZeroKeepsZeroAsADim) {
  Tensor x(DType::kFloat32, {0, 3});
  Tensor shape = ints({3, 0});
  Tensor y = run_op(make_node("Reshape", 2, {{"allowzero", int64_t{1}}}), {&x, &shape}, 14)[0];
  EXPECT_EQ(y.shape(), (Shape{3, 0}));
  // Without allowzero the 0 copies input dim 1 (3) and 3x3 != 0 elements.
  expect_error(
      [&] {
        run_op(make_node("Reshape", 2), {&x, &shape}, 14);
      },
      ErrorCode::kInvalidArgument, {"test_", "cannot reshape"});
}

TEST(Reshape, Opset1TakesTheShapeAttribute) {
  Tensor x = iota_float({4, 3});
  Tensor y = run_op(make_node("Reshape", 1, {{"shape", std::vector<int64_t>{3, -1}}}), {&x}, 1)[0];
  EXPECT_EQ(y.shape(), (Shape{3, 4}));
}

TEST(Reshape, IncompatibleShapeNamesNodeAndShapes) {
  Tensor x = iota_float({2, 3});
  Tensor shape = ints({4, 2});
  expect_error(
      [&] {
        run_op(make_node("Reshape", 2), {&x, &shape}, 14);
      },
      ErrorCode::kInvalidArgument, {"test_", "[2, 3]"});
  Tensor two_unknown = ints({-1, -1});
  expect_error(
      [&] {
        run_op(make_node("Reshape", 2), {&x, &two_unknown}, 14);
      },
      ErrorCode::kInvalidArgument, {"test_", "more than one -1"});
}

TEST(Squeeze, AxesAttributeBefore13InputSince13) {
  Tensor x = iota_float({1, 3, 1, 2});
  EXPECT_EQ(
      run_op(make_node("Squeeze", 1, {{"axes", std::vector<int64_t>{-2}}}), {&x}, 11)[0].shape(),
      (Shape{1, 3, 2}));
  Tensor axes = ints({0, -2});
  EXPECT_EQ(run_op(make_node("Squeeze", 2), {&x, &axes}, 13)[0].shape(), (Shape{3, 2}));
  // No axes: every size-1 dim goes; an absent optional input means the same.
  EXPECT_EQ(run_op(make_node("Squeeze", 1), {&x}, 13)[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(run_op(make_node("Squeeze", 2), {&x, nullptr}, 13)[0].shape(), (Shape{3, 2}));
  Tensor bad = ints({1});
  expect_error(
      [&] {
        run_op(make_node("Squeeze", 2), {&x, &bad}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "size is not 1"});
}

TEST(Unsqueeze, AxesCountInTheOutputRank) {
  Tensor x = iota_float({3, 4});
  Tensor axes = ints({-1, 0});
  Tensor y = run_op(make_node("Unsqueeze", 2), {&x, &axes}, 13)[0];
  EXPECT_EQ(y.shape(), (Shape{1, 3, 4, 1}));
  Tensor z = run_op(make_node("Unsqueeze", 1, {{"axes", std::vector<int64_t>{3, 1}}}), {&x}, 11)[0];
  EXPECT_EQ(z.shape(), (Shape{3, 1, 4, 1}));
  Tensor repeated = ints({1, -3});
  expect_error(
      [&] {
        run_op(make_node("Unsqueeze", 2), {&x, &repeated}, 13);
      },
      ErrorCode::kInvalidModel, {"test_", "repeated"});
}

TEST(Flatten, AxisFromMinusRankToRank) {
  Tensor x = iota_float({2, 3, 4});
  auto flat = [&](int64_t axis) {
    return run_op(make_node("Flatten", 1, {{"axis", axis}}), {&x}, 13)[0].shape();
  };
  EXPECT_EQ(flat(0), (Shape{1, 24}));
  EXPECT_EQ(flat(2), (Shape{6, 4}));
  EXPECT_EQ(flat(3), (Shape{24, 1}));
  EXPECT_EQ(flat(-1), (Shape{6, 4}));
  EXPECT_EQ(run_op(make_node("Flatten", 1), {&x}, 13)[0].shape(), (Shape{2, 12}));
  expect_error([&] { flat(4); }, ErrorCode::kInvalidModel, {"test_", "axis 4"});
}

TEST(Dropout, InferenceIsIdentityWithAllTrueMask) {
  Tensor x = iota_float({2, 3});
  std::vector<Tensor> out = run_op(make_node("Dropout", 1, {}, 2), {&x}, 13);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].to_float_vector(), x.to_float_vector());
  EXPECT_EQ(out[1].dtype(), DType::kBool);
  EXPECT_EQ(out[1].to_float_vector(), std::vector<float>(6, 1.0f));
  // Opset 7 masks have the data type.
  EXPECT_EQ(run_op(make_node("Dropout", 1, {}, 2), {&x}, 7)[1].dtype(), DType::kFloat32);
  // Training mode with ratio 0 is still the identity; with a real ratio it needs randomness.
  Tensor ratio = Tensor::scalar<float>(0.0f);
  Tensor training = Tensor::scalar<bool>(true);
  EXPECT_EQ(run_op(make_node("Dropout", 3), {&x, &ratio, &training}, 13)[0].to_float_vector(),
            x.to_float_vector());
  Tensor half = Tensor::scalar<float>(0.5f);
  expect_error(
      [&] {
        run_op(make_node("Dropout", 3), {&x, &half, &training}, 13);
      },
      ErrorCode::kUnsupported, {"test_", "training"});
}

TEST(Identity, ReturnsTheInputForAnyDtype) {
  Tensor x = Tensor::from_vector<int8_t>({3}, {-1, 0, 7});
  Tensor y = run_op(make_node("Identity", 1), {&x}, 16)[0];
  EXPECT_EQ(y.dtype(), DType::kInt8);
  EXPECT_EQ(y.to_float_vector(), (std::vector<float>{-1, 0, 7}));
}

TEST(ShapeOp, StartAndEndSliceTheShapeSinceOpset15) {
  Tensor x(DType::kFloat32, {2, 3, 4, 5});
  auto shape_of = [&](std::map<std::string, Attribute> attrs) {
    return run_op(make_node("Shape", 1, std::move(attrs)), {&x}, 15)[0].to_int64_vector();
  };
  EXPECT_EQ(shape_of({}), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(shape_of({{"start", int64_t{1}}, {"end", int64_t{-1}}}), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(shape_of({{"start", int64_t{-10}}, {"end", int64_t{10}}}),
            (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_TRUE(shape_of({{"start", int64_t{3}}, {"end", int64_t{1}}}).empty());
}

TEST(Transpose, MatchesIndexLoopForEveryDtypeSize) {
  Shape shape{2, 3, 4};
  std::vector<int64_t> values(24);
  std::iota(values.begin(), values.end(), 100);
  Tensor x64 = Tensor::from_vector<int64_t>(shape, values);
  Tensor y =
      run_op(make_node("Transpose", 1, {{"perm", std::vector<int64_t>{2, 0, 1}}}), {&x64}, 13)[0];
  ASSERT_EQ(y.shape(), (Shape{4, 2, 3}));
  const int64_t* out = y.data<int64_t>();
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j)
        EXPECT_EQ(out[(k * 2 + i) * 3 + j], values[(i * 3 + j) * 4 + k]);

  Tensor x8 = Tensor::from_vector<uint8_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor t8 = run_op(make_node("Transpose", 1), {&x8}, 13)[0];  // default: reversed axes
  EXPECT_EQ(t8.shape(), (Shape{3, 2}));
  EXPECT_EQ(t8.to_float_vector(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  expect_error(
      [&] {
        run_op(make_node("Transpose", 1, {{"perm", std::vector<int64_t>{0, 0}}}), {&x8}, 13);
      },
      ErrorCode::kInvalidModel, {"test_", "repeated"});
}

TEST(Transpose, TimeChannelSwapLargerThanOneTile) {
  // [B, C, T] <-> [B, T, C] as around Vocos' ConvNeXt blocks; sizes not multiples of the tile.
  Shape shape{2, 70, 45};
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  std::iota(values.begin(), values.end(), 0.5);
  Tensor x = Tensor::from_vector<double>(shape, values);
  Tensor y =
      run_op(make_node("Transpose", 1, {{"perm", std::vector<int64_t>{0, 2, 1}}}), {&x}, 13)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 45, 70}));
  const double* out = y.data<double>();
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 45; ++t)
      for (int64_t c = 0; c < 70; ++c)
        ASSERT_EQ(out[(b * 45 + t) * 70 + c], values[static_cast<size_t>((b * 70 + c) * 45 + t)]);
}

// The tiled parallel path for transposes that swap the last two (merged) axes, against the
// generic gather on the reference path: size-1 axes, merged axis runs, odd tile remainders, and
// permutations that are not such a swap (which must take the generic path and still agree).
TEST(Transpose, BatchedSwapPathMatchesReference) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{1, 512, 300}, {0, 2, 1}},    // Vocos' [B, C, T] -> [B, T, C]
      {{3, 70, 45}, {0, 2, 1}},      // batched, not a multiple of the tile
      {{33, 65}, {1, 0}},            // plain matrix
      {{4, 5, 6}, {2, 0, 1}},        // [A, B, C] -> [C, A, B]: a swap of [A*B] and [C]
      {{4, 1, 5, 6}, {3, 1, 0, 2}},  // the same with a size-1 axis moved around
      {{2, 3, 4, 5}, {0, 1, 3, 2}},  // batch of 6 merged from two axes
      {{2, 3, 4}, {1, 0, 2}},        // not a swap of the last two: generic path
      {{2, 3, 4, 5}, {0, 3, 2, 1}},  // neither
  };
  for (const auto& [shape, perm] : cases) {
    Tensor x = iota_float(shape);
    Node node = make_node("Transpose", 1, {{"perm", perm}});
    Tensor fast = run_path(node, {&x}, false);
    Tensor reference = run_path(node, {&x}, true);
    ASSERT_EQ(fast.shape(), reference.shape()) << shape_str(shape);
    EXPECT_EQ(fast.to_float_vector(), reference.to_float_vector()) << shape_str(shape);
  }
  Tensor ints32 = Tensor::from_vector<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(run_path(make_node("Transpose", 1), {&ints32}, false).to_float_vector(),
            (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(Gather, NegativeIndicesOnAnyAxis) {
  Tensor x = iota_float({2, 3, 4});
  Tensor indices = Tensor::from_vector<int32_t>({2, 2}, {-1, 0, 2, -4});
  Tensor y = run_op(make_node("Gather", 2, {{"axis", int64_t{-1}}}), {&x, &indices}, 13)[0];
  ASSERT_EQ(y.shape(), (Shape{2, 3, 2, 2}));
  std::vector<float> got = y.to_float_vector();
  const int64_t idx[4] = {3, 0, 2, 0};
  size_t k = 0;
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(got[k++], static_cast<float>(i * 4 + idx[j]));

  Tensor scalar = Tensor::scalar<int64_t>(1);
  Tensor row = run_op(make_node("Gather", 2), {&x, &scalar}, 13)[0];
  EXPECT_EQ(row.shape(), (Shape{3, 4}));
  EXPECT_EQ(row.to_float_vector()[0], 12.0f);
}

TEST(Gather, IndexOutOfRangeIsRefused) {
  Tensor x = iota_float({2, 3});
  Tensor indices = ints({0, 3});
  expect_error(
      [&] {
        run_op(make_node("Gather", 2, {{"axis", int64_t{1}}}), {&x, &indices}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "index 3"});
  Tensor negative = ints({-3});
  expect_error(
      [&] {
        run_op(make_node("Gather", 2), {&x, &negative}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "index -3"});
}

// Expected Slice along one axis, by the ONNX clamping rules written out directly.
std::vector<int64_t> slice_indices(int64_t start, int64_t end, int64_t step, int64_t dim) {
  std::vector<int64_t> out;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::max<int64_t>(0, std::min(start, dim));
    end = std::max<int64_t>(0, std::min(end, dim));
    for (int64_t i = start; i < end; i += step) out.push_back(i);
  } else {
    start = std::max<int64_t>(0, std::min(start, dim - 1));
    end = std::max<int64_t>(-1, std::min(end, dim - 1));
    for (int64_t i = start; i > end; i += step) out.push_back(i);
  }
  return out;
}

TEST(Slice, NegativeStepsClampingAndDefaults) {
  Tensor x = iota_float({3, 10});
  struct Case {
    int64_t start, end, step;
  };
  for (Case c : {Case{-1, INT64_MIN, -1}, Case{8, 1, -3}, Case{INT64_MIN, INT64_MAX, 4},
                 Case{-100, 100, 1}, Case{20, -20, -2}, Case{3, 3, 1}, Case{5, 2, 1}}) {
    Tensor starts = ints({c.start}), ends = ints({c.end}), axes = ints({-1}),
           steps = ints({c.step});
    Tensor y = run_op(make_node("Slice", 5), {&x, &starts, &ends, &axes, &steps}, 13)[0];
    std::vector<int64_t> cols = slice_indices(c.start, c.end, c.step, 10);
    ASSERT_EQ(y.shape(), (Shape{3, static_cast<int64_t>(cols.size())}));
    std::vector<float> got = y.to_float_vector();
    for (size_t r = 0; r < 3; ++r)
      for (size_t j = 0; j < cols.size(); ++j)
        EXPECT_EQ(got[r * cols.size() + j], static_cast<float>(r * 10 + cols[j]))
            << c.start << ":" << c.end << ":" << c.step;
  }
  // Absent axes and steps: axes 0.., step 1.
  Tensor starts = ints({1, 2}), ends = ints({-1, 1000});
  Tensor y = run_op(make_node("Slice", 5), {&x, &starts, &ends, nullptr, nullptr}, 13)[0];
  EXPECT_EQ(y.shape(), (Shape{1, 8}));
  EXPECT_EQ(y.to_float_vector()[0], 12.0f);
}

TEST(Slice, Opset1AttributesAndBadSteps) {
  Tensor x = iota_float({4, 5});
  Node node = make_node("Slice", 1,
                        {{"starts", std::vector<int64_t>{1}},
                         {"ends", std::vector<int64_t>{3}},
                         {"axes", std::vector<int64_t>{1}}});
  Tensor y = run_op(node, {&x}, 1)[0];
  EXPECT_EQ(y.shape(), (Shape{4, 2}));
  EXPECT_EQ(y.to_float_vector()[2], 6.0f);
  Tensor starts = ints({0}), ends = ints({2}), axes = ints({0}), zero = ints({0});
  expect_error(
      [&] {
        run_op(make_node("Slice", 5), {&x, &starts, &ends, &axes, &zero}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_", "step 0"});
}

}  // namespace
}  // namespace amphora
