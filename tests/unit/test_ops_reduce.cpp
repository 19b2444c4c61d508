// Reduce*, Softmax, LayerNormalization and CumSum against loops written out in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>

#include "op_test_util.hpp"
#include "ops/avx2_lanes.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

using namespace testing;

std::vector<float> iota(size_t n, float start = 1.0f) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

// x[3][2][2] = 1..12
Tensor cube() { return Tensor::from_vector<float>({3, 2, 2}, iota(12)); }

TEST(Reduce, SumAxesInputKeepdimsAndNegativeAxes) {
  Tensor x = cube();
  Tensor axes = Tensor::from_vector<int64_t>({1}, {-2});
  Tensor kept = run1(make_node("ReduceSum", {"x", "axes"}), {&x, &axes}, 13);
  EXPECT_EQ(kept.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(kept.to_float_vector(), (std::vector<float>{4, 6, 12, 14, 20, 22}));
  Tensor dropped =
      run1(make_node("ReduceSum", {"x", "axes"}, {{"keepdims", int64_t{0}}}), {&x, &axes}, 13);
  EXPECT_EQ(dropped.shape(), (Shape{3, 2}));
  Tensor two_axes = Tensor::from_vector<int64_t>({2}, {0, 2});
  EXPECT_EQ(run1(make_node("ReduceSum", {"x", "axes"}), {&x, &two_axes}, 13).to_float_vector(),
            (std::vector<float>{1 + 2 + 5 + 6 + 9 + 10, 3 + 4 + 7 + 8 + 11 + 12}));
}

TEST(Reduce, EmptyAxesReduceAllOrNoop) {
  Tensor x = cube();
  Tensor none = Tensor::from_vector<int64_t>({0}, {});
  Tensor all = run1(make_node("ReduceSum", {"x", "axes"}), {&x, &none}, 13);
  EXPECT_EQ(all.shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(all.to_float_vector()[0], 78.0f);
  Tensor absent = run1(make_node("ReduceSum", {"x"}, {{"keepdims", int64_t{0}}}), {&x}, 13);
  EXPECT_EQ(absent.shape(), Shape{});
  EXPECT_EQ(absent.to_float_vector()[0], 78.0f);
  Tensor same = run1(make_node("ReduceSum", {"x", "axes"}, {{"noop_with_empty_axes", int64_t{1}}}),
                     {&x, &none}, 13);
  EXPECT_EQ(same.shape(), x.shape());
  EXPECT_EQ(same.to_float_vector(), x.to_float_vector());
}

TEST(Reduce, AxesAttributeBeforeOpset18) {
  Tensor x = cube();
  Node mean =
      make_node("ReduceMean", {"x"}, {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
  EXPECT_EQ(run1(mean, {&x}, 13).to_float_vector(), (std::vector<float>{2, 3, 6, 7, 10, 11}));
  Node sum11 = make_node("ReduceSum", {"x"}, {{"axes", std::vector<int64_t>{-1}}});
  EXPECT_EQ(run1(sum11, {&x}, 11).to_float_vector(), (std::vector<float>{3, 7, 11, 15, 19, 23}));
  // From opset 18 the same op takes axes as an input.
  Tensor axes = Tensor::from_vector<int64_t>({1}, {1});
  Tensor y =
      run1(make_node("ReduceMean", {"x", "axes"}, {{"keepdims", int64_t{0}}}), {&x, &axes}, 18);
  EXPECT_EQ(y.to_float_vector(), (std::vector<float>{2, 3, 6, 7, 10, 11}));
  expect_error([&] { run1(mean, {&x}, 18); }, ErrorCode::kInvalidModel,
               {"ReduceMean", "attribute"});
}

TEST(Reduce, MaxAndL2) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {3, -4, 1, kNaN, 2, 0});
  Node max = make_node("ReduceMax", {"x"}, {{"axes", std::vector<int64_t>{1}}});
  std::vector<float> m = run1(max, {&x}, 13).to_float_vector();
  EXPECT_EQ(m[0], 3.0f);
  EXPECT_TRUE(std::isnan(m[1]));
  Node l2 = make_node("ReduceL2", {"x"}, {{"axes", std::vector<int64_t>{1}}});
  EXPECT_FLOAT_EQ(run1(l2, {&x}, 13).to_float_vector()[0], std::sqrt(26.0f));
  Tensor i = Tensor::from_vector<int64_t>({2, 2}, {5, -9, 7, 2});
  Node imax =
      make_node("ReduceMax", {"x"}, {{"axes", std::vector<int64_t>{0}}, {"keepdims", int64_t{0}}});
  Tensor im = run1(imax, {&i}, 13);
  EXPECT_EQ(im.dtype(), DType::kInt64);
  EXPECT_EQ(im.to_int64_vector(), (std::vector<int64_t>{7, 2}));
}

TEST(Reduce, MinProdSumSquare) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {3, -4, 1, kNaN, 2, 0.5f});
  Node min = make_node("ReduceMin", {"x"}, {{"axes", std::vector<int64_t>{1}}});
  std::vector<float> m = run1(min, {&x}, 13).to_float_vector();
  EXPECT_EQ(m[0], -4.0f);
  EXPECT_TRUE(std::isnan(m[1]));
  Node prod = make_node("ReduceProd", {"x"}, {{"axes", std::vector<int64_t>{-1}}});
  EXPECT_EQ(run1(prod, {&x}, 13).to_float_vector()[0], -12.0f);
  Node square = make_node("ReduceSumSquare", {"x"}, {{"keepdims", int64_t{0}}});
  Tensor y = run1(square, {&x}, 13);
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_TRUE(std::isnan(y.to_float_vector()[0]));
  Tensor i = Tensor::from_vector<int64_t>({3}, {2, -3, 4});
  EXPECT_EQ(run1(square, {&i}, 13).to_int64_vector(), (std::vector<int64_t>{29}));
  EXPECT_EQ(run1(make_node("ReduceProd", {"x"}), {&i}, 13).to_int64_vector(),
            (std::vector<int64_t>{-24}));
}

TEST(Reduce, BadAxesAndDtypes) {
  Tensor x = cube();
  Node dup = make_node("ReduceMean", {"x"}, {{"axes", std::vector<int64_t>{1, -2}}});
  expect_error([&] { run1(dup, {&x}, 13); }, ErrorCode::kInvalidModel,
               {"ReduceMean 'test_ReduceMean'", "twice"});
  Node far = make_node("ReduceMean", {"x"}, {{"axes", std::vector<int64_t>{3}}});
  expect_error([&] { run1(far, {&x}, 13); }, ErrorCode::kInvalidModel, {"axis 3", "rank 3"});
  Tensor b = Tensor::from_vector<bool>({2}, {true, false});
  expect_error([&] { run1(make_node("ReduceMax", {"x"}), {&b}, 13); }, ErrorCode::kUnsupported,
               {"ReduceMax", "bool"});
}

TEST(Reduce, LargeMeanMatchesDoubleLoop) {
  const int64_t rows = 64, width = 1000;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist;
  std::vector<float> v(rows * width);
  for (float& f : v) f = dist(rng);
  Tensor x = Tensor::from_vector<float>({rows, width}, v);
  Node mean = make_node("ReduceMean", {"x"}, {{"axes", std::vector<int64_t>{-1}}});
  Tensor y = run1(mean, {&x}, 13);
  for (int64_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (int64_t i = 0; i < width; ++i) sum += v[r * width + i];
    ASSERT_NEAR(y.data<float>()[r], sum / width, 1e-6);
  }
}

std::vector<double> softmax_ref(const std::vector<float>& v) {
  double peak = *std::max_element(v.begin(), v.end());
  std::vector<double> e;
  double sum = 0;
  for (float f : v) sum += e.emplace_back(std::exp(f - peak));
  for (double& x : e) x /= sum;
  return e;
}

TEST(Softmax, SingleAxisSinceOpset13) {
  Tensor x = Tensor::from_vector<float>({2, 3, 2}, {1, 2, 3, 4, 5, 6, -1, 0, 1000, 1001, 3, 3});
  // axis 1: the lanes are x[i, :, k].
  Tensor y = run1(make_node("Softmax", {"x"}, {{"axis", int64_t{1}}}), {&x}, 13);
  const std::vector<float> lane = {-1, 1000, 3};
  std::vector<double> want = softmax_ref(lane);
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(y.data<float>()[6 + j * 2], want[j], 1e-6);
  // default axis -1
  Tensor last = run1(make_node("Softmax", {"x"}), {&x}, 13);
  EXPECT_NEAR(last.data<float>()[8], softmax_ref({1000, 1001})[0], 1e-6);
  EXPECT_NEAR(last.data<float>()[10], 0.5, 1e-7);
}

// Contiguous float rows take eight exponentials at a time (exp8); against the double
// reference on long rows with a ragged tail, masked (-inf) entries, and a row with a NaN.
TEST(Softmax, VectorisedRowsMatchTheReference) {
  std::mt19937 rng(5);
  std::normal_distribution<float> logits(0.0f, 8.0f);
  const int64_t rows = 3, width = 1001;
  std::vector<float> v(static_cast<size_t>(rows * width));
  for (float& f : v) f = logits(rng);
  for (int64_t t = 700; t < width; ++t) v[static_cast<size_t>(width + t)] = -INFINITY;  // a mask
  v[static_cast<size_t>(2 * width + 17)] = NAN;
  Tensor x = Tensor::from_vector<float>({rows, width}, v);
  Tensor y = run1(make_node("Softmax", {"x"}), {&x}, 13);
  for (int64_t r = 0; r < 2; ++r) {
    const std::vector<float> row(v.begin() + r * width, v.begin() + (r + 1) * width);
    const std::vector<double> want = softmax_ref(row);
    for (int64_t t = 0; t < width; ++t) {
      const double got = y.data<float>()[r * width + t];
      ASSERT_NEAR(got, want[static_cast<size_t>(t)], 1e-6 * want[static_cast<size_t>(t)] + 1e-12)
          << "row " << r << " column " << t;
    }
  }
  for (int64_t t = 0; t < width; ++t) EXPECT_TRUE(std::isnan(y.data<float>()[2 * width + t]));
}

TEST(Exp8, WithinTwoUlpOfStdExpAndZeroBelowTheNormalRange) {
  std::vector<float> xs;
  for (float x = -87.3f; x < 88.3f; x += 0.0173f) xs.push_back(x);
  xs.insert(xs.end(), {0.0f, -0.0f, 1e-8f, -1e-8f});
  for (size_t k = 0; k + 8 <= xs.size(); k += 8) {
    alignas(32) float got[8];
    _mm256_store_ps(got, exp8(_mm256_loadu_ps(&xs[k])));
    for (size_t j = 0; j < 8; ++j) {
      const float want = std::exp(xs[k + j]);
      ASSERT_LE(std::fabs(got[j] - want), 2.5f * std::numeric_limits<float>::epsilon() * want)
          << "exp(" << xs[k + j] << ")";
    }
  }
  alignas(32) float edge[8] = {-INFINITY, -1000.0f, -87.5f, NAN, 0, 0, 0, 0};
  _mm256_store_ps(edge, exp8(_mm256_load_ps(edge)));
  EXPECT_EQ(edge[0], 0.0f);
  EXPECT_EQ(edge[1], 0.0f);
  EXPECT_EQ(edge[2], 0.0f);
  EXPECT_TRUE(std::isnan(edge[3]));
  EXPECT_EQ(edge[4], 1.0f);
}

TEST(Softmax, CoercedTo2DBeforeOpset13) {
  std::vector<float> v = {0.1f, -2, 3, 0.5f, 1, 1, 2, -1, 0, 4, 2, 2};
  Tensor x = Tensor::from_vector<float>({2, 3, 2}, v);
  // default axis 1: each batch row of 6 elements is one distribution.
  Tensor y = run1(make_node("Softmax", {"x"}), {&x}, 11);
  std::vector<double> first = softmax_ref(std::vector<float>(v.begin(), v.begin() + 6));
  for (int j = 0; j < 6; ++j) EXPECT_NEAR(y.data<float>()[j], first[j], 1e-6);
  Tensor whole = run1(make_node("Softmax", {"x"}, {{"axis", int64_t{0}}}), {&x}, 11);
  std::vector<double> all = softmax_ref(v);
  for (int j = 0; j < 12; ++j) EXPECT_NEAR(whole.data<float>()[j], all[j], 1e-6);
  Tensor ints = Tensor::from_vector<int64_t>({2}, {1, 2});
  expect_error([&] { run1(make_node("Softmax", {"x"}), {&ints}, 13); }, ErrorCode::kUnsupported,
               {"Softmax 'test_Softmax'", "int64"});
}

TEST(Softmax, LogSoftmaxIsLogOfSoftmax) {
  std::vector<float> v = {0.5f, -1, 3, 1000, 999, 998};
  Tensor x = Tensor::from_vector<float>({2, 3}, v);
  Tensor y = run1(make_node("LogSoftmax", {"x"}), {&x}, 13);
  for (int r = 0; r < 2; ++r) {
    std::vector<double> p =
        softmax_ref(std::vector<float>(v.begin() + r * 3, v.begin() + r * 3 + 3));
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(y.data<float>()[r * 3 + j], std::log(p[j]), 1e-5);
  }
}

TEST(LayerNorm, LastAxisWithScaleAndBias) {
  Tensor x = Tensor::from_vector<float>({2, 4}, {1, 2, 3, 4, -1, 0, 5, 8});
  Tensor scale = Tensor::from_vector<float>({4}, {1, 2, 0.5f, -1});
  Tensor bias = Tensor::from_vector<float>({4}, {0, 1, 0, 0.25f});
  Tensor y = run1(make_node("LayerNormalization", {"x", "s", "b"}, {}), {&x, &scale, &bias}, 17);
  for (int r = 0; r < 2; ++r) {
    const float* row = x.data<float>() + r * 4;
    double mean = (row[0] + row[1] + row[2] + row[3]) / 4.0, var = 0;
    for (int i = 0; i < 4; ++i) var += (row[i] - mean) * (row[i] - mean) / 4.0;
    for (int i = 0; i < 4; ++i) {
      double want =
          (row[i] - mean) / std::sqrt(var + 1e-5) * scale.data<float>()[i] + bias.data<float>()[i];
      EXPECT_NEAR(y.data<float>()[r * 4 + i], want, 1e-5);
    }
  }
}

TEST(LayerNorm, MiddleAxisWithStatisticsOutputsAndNoBias) {
  std::vector<float> v = iota(12, -3.0f);
  v[5] = 10;
  Tensor x = Tensor::from_vector<float>({2, 3, 2}, v);
  Tensor scale = Tensor::from_vector<float>({3, 2}, {1, 1, 1, 1, 1, 2});
  Node node =
      make_node("LayerNormalization", {"x", "s"}, {{"axis", int64_t{-2}}, {"epsilon", 0.1f}}, 3);
  std::vector<Tensor> out = run_op(node, {&x, &scale}, 17);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].shape(), (Shape{2, 1, 1}));
  EXPECT_EQ(out[2].shape(), (Shape{2, 1, 1}));
  for (int r = 0; r < 2; ++r) {
    double mean = 0, var = 0;
    for (int i = 0; i < 6; ++i) mean += v[r * 6 + i] / 6.0;
    for (int i = 0; i < 6; ++i) var += (v[r * 6 + i] - mean) * (v[r * 6 + i] - mean) / 6.0;
    EXPECT_NEAR(out[1].data<float>()[r], mean, 1e-6);
    EXPECT_NEAR(out[2].data<float>()[r], 1 / std::sqrt(var + 0.1), 1e-6);
    EXPECT_NEAR(out[0].data<float>()[r * 6 + 5], (v[r * 6 + 5] - mean) / std::sqrt(var + 0.1) * 2,
                1e-5);
  }
  Tensor wrong = Tensor::from_vector<float>({4}, {1, 1, 1, 1});
  expect_error(
      [&] {
        run_op(node, {&x, &wrong}, 17);
      },
      ErrorCode::kInvalidArgument, {"LayerNormalization", "[4]"});
}

// The float fast path (full-width Scale and B) against the double reference, statistics
// outputs included; a row offset far from zero checks the two-pass variance.
TEST(LayerNorm, FastPathMatchesReference) {
  std::mt19937 rng(11);
  for (const auto& [shape, axis] : std::vector<std::pair<Shape, int64_t>>{
           {{1, 300, 512}, -1}, {{2, 7, 3, 8}, -2}, {{4, 1}, -1}}) {
    Tensor x = random_tensor(shape, rng);
    for (int64_t i = 0; i < x.numel(); i += 3) x.data<float>()[i] += 100.0f;
    const Shape normalized(shape.end() + axis, shape.end());
    Tensor scale = random_tensor(normalized, rng), bias = random_tensor(normalized, rng);
    for (bool with_bias : {true, false}) {
      Node node = make_node(
          "LayerNormalization",
          with_bias ? std::vector<std::string>{"x", "s", "b"} : std::vector<std::string>{"x", "s"},
          {{"axis", axis}, {"epsilon", 1e-6f}}, 3);
      std::vector<const Tensor*> in = {&x, &scale};
      if (with_bias) in.push_back(&bias);
      const std::vector<Tensor> reference = run_op(node, in, 17, KernelOptions{true, 1});
      const std::vector<Tensor> fast = run_op(node, in, 17, KernelOptions{false, 2});
      for (size_t o = 0; o < 3; ++o) {
        ASSERT_EQ(fast[o].shape(), reference[o].shape());
        EXPECT_LT(relative_error(fast[o], reference[o]), 1e-5) << shape_str(shape) << " #" << o;
      }
    }
  }
}

Tensor cumsum(const Tensor& x, int64_t axis, bool exclusive = false, bool reverse = false) {
  Tensor axis_tensor = Tensor::scalar<int64_t>(axis);
  Node node = make_node("CumSum", {"x", "axis"},
                        {{"exclusive", int64_t{exclusive}}, {"reverse", int64_t{reverse}}});
  return run1(node, {&x, &axis_tensor}, 14);
}

TEST(CumSum, ExclusiveReverseAndAxes) {
  Tensor x = Tensor::from_vector<float>({5}, {1, 2, 3, 4, 5});
  EXPECT_EQ(cumsum(x, 0).to_float_vector(), (std::vector<float>{1, 3, 6, 10, 15}));
  EXPECT_EQ(cumsum(x, 0, true).to_float_vector(), (std::vector<float>{0, 1, 3, 6, 10}));
  EXPECT_EQ(cumsum(x, 0, false, true).to_float_vector(), (std::vector<float>{15, 14, 12, 9, 5}));
  EXPECT_EQ(cumsum(x, 0, true, true).to_float_vector(), (std::vector<float>{14, 12, 9, 5, 0}));
  Tensor m = Tensor::from_vector<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(cumsum(m, 0).to_int64_vector(), (std::vector<int64_t>{1, 2, 3, 5, 7, 9}));
  EXPECT_EQ(cumsum(m, -1).to_int64_vector(), (std::vector<int64_t>{1, 3, 6, 4, 9, 15}));
  Tensor i32_axis = Tensor::scalar<int32_t>(1);
  Tensor y = run1(make_node("CumSum", {"x", "axis"}), {&m, &i32_axis}, 14);
  EXPECT_EQ(y.to_int64_vector(), (std::vector<int64_t>{1, 3, 6, 4, 9, 15}));
  expect_error([&] { cumsum(m, 2); }, ErrorCode::kInvalidModel, {"CumSum", "axis 2"});
}

TEST(CumSum, Float32AccumulatesSequentiallyInFloat) {
  // A phase accumulator: many small increments. The result must be exactly the float32
  // running sum (not a double or pairwise sum rounded at the end).
  const int64_t n = 48000;
  std::vector<float> inc(2 * n);
  for (int64_t i = 0; i < 2 * n; ++i)
    inc[i] = 220.0f / 24000.0f + 1e-7f * static_cast<float>(i % 7);
  Tensor x = Tensor::from_vector<float>({2, n}, inc);
  Tensor y = cumsum(x, 1);
  double exact = 0;
  for (int64_t row = 0; row < 2; ++row) {
    float running = 0;
    for (int64_t i = 0; i < n; ++i) {
      running += inc[row * n + i];
      if (row == 0) exact += inc[i];
      ASSERT_EQ(y.data<float>()[row * n + i], running) << "row " << row << " index " << i;
    }
  }
  // Sanity: float32 accumulation really differs from the exact sum here, so the test has teeth.
  EXPECT_NE(static_cast<double>(y.data<float>()[n - 1]), exact);
}

}  // namespace
}  // namespace amphora
