// Pad on [B, C, T] audio-shaped tensors (as MelGAN/BigVGAN use it before convolutions), across
// opsets, dtypes, negative pads and axes; expected values are built here sample by sample.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

using namespace testing;

Tensor random_audio(int64_t batch, int64_t channels, int64_t frames) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<size_t>(batch * channels * frames));
  for (float& s : v) s = normal(rng);
  return Tensor::from_vector<float>({batch, channels, frames}, v);
}

// The time axis padded the way numpy.pad / torch.nn.functional.pad describe each mode.
std::vector<float> pad_row(const std::vector<float>& row, int64_t left, int64_t right,
                           const std::string& mode, float value) {
  int64_t n = static_cast<int64_t>(row.size());
  std::vector<float> out;
  for (int64_t i = left; i > 0; --i) {  // i-th sample before the start
    if (mode == "reflect")
      out.push_back(row[static_cast<size_t>(i)]);
    else if (mode == "edge")
      out.push_back(row.front());
    else
      out.push_back(value);
  }
  out.insert(out.end(), row.begin(), row.end());
  for (int64_t i = 1; i <= right; ++i) {  // i-th sample after the end
    if (mode == "reflect")
      out.push_back(row[static_cast<size_t>(n - 1 - i)]);
    else if (mode == "edge")
      out.push_back(row.back());
    else
      out.push_back(value);
  }
  return out;
}

void expect_time_padding(const Tensor& x, const Tensor& y, int64_t left, int64_t right,
                         const std::string& mode, float value) {
  int64_t rows = x.dim(0) * x.dim(1), frames = x.dim(2);
  ASSERT_EQ(y.shape(), (Shape{x.dim(0), x.dim(1), frames + left + right}));
  std::vector<float> in = x.to_float_vector(), got = y.to_float_vector();
  size_t out_frames = static_cast<size_t>(frames + left + right);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(in.begin() + r * frames, in.begin() + (r + 1) * frames);
    std::vector<float> want = pad_row(row, left, right, mode, value);
    std::vector<float> have(
        got.begin() + static_cast<ptrdiff_t>(r * static_cast<int64_t>(out_frames)),
        got.begin() + static_cast<ptrdiff_t>((r + 1) * static_cast<int64_t>(out_frames)));
    EXPECT_EQ(have, want) << mode << " row " << r;
  }
}

TEST(Pad, ReflectEdgeConstantOnTheTimeAxis) {
  Tensor x = random_audio(2, 3, 17);
  for (std::string mode : {"reflect", "edge", "constant"}) {
    Tensor pads = ints({0, 0, 3, 0, 0, 5});
    Tensor y = run1(make_node("Pad", 2, {{"mode", mode}}), {&x, &pads}, 13);
    expect_time_padding(x, y, 3, 5, mode, 0.0f);
    // The widest reflect pad the input allows: T - 1 on each side.
    Tensor wide = ints({0, 0, 16, 0, 0, 16});
    expect_time_padding(x, run1(make_node("Pad", 2, {{"mode", mode}}), {&x, &wide}, 13), 16, 16,
                        mode, 0.0f);
  }
}

TEST(Pad, ConstantValueInputAndOpset2Attributes) {
  Tensor x = random_audio(1, 2, 5);
  Tensor pads = ints({0, 0, 2, 0, 0, 1});
  Tensor value = Tensor::scalar<float>(-1.5f);
  Tensor y = run1(make_node("Pad", 3), {&x, &pads, &value}, 11);
  expect_time_padding(x, y, 2, 1, "constant", -1.5f);
  // Empty optional constant_value: 0.
  expect_time_padding(x, run1(make_node("Pad", 3), {&x, &pads, nullptr}, 11), 2, 1, "constant", 0);

  Node attr_node =
      make_node("Pad", 1, {{"pads", std::vector<int64_t>{0, 0, 2, 0, 0, 1}}, {"value", 4.0f}});
  expect_time_padding(x, run1(attr_node, {&x}, 2), 2, 1, "constant", 4.0f);
  Node opset1 = make_node(
      "Pad", 1,
      {{"paddings", std::vector<int64_t>{0, 0, 1, 0, 0, 1}}, {"mode", std::string("edge")}});
  expect_time_padding(x, run1(opset1, {&x}, 1), 1, 1, "edge", 0.0f);
}

TEST(Pad, NegativePadsCropAndPadsOnOtherAxes) {
  Tensor x = random_audio(1, 2, 8);
  Tensor pads = ints({0, 1, -3, 0, 0, 2});  // one extra channel in front, crop 3 frames, pad 2
  Tensor y = run1(make_node("Pad", 2, {{"mode", std::string("edge")}}), {&x, &pads}, 13);
  ASSERT_EQ(y.shape(), (Shape{1, 3, 7}));
  std::vector<float> in = x.to_float_vector(), got = y.to_float_vector();
  for (int64_t c = 0; c < 3; ++c) {
    int64_t src_c = c == 0 ? 0 : c - 1;  // edge mode repeats channel 0
    for (int64_t t = 0; t < 7; ++t) {
      int64_t src_t = std::min<int64_t>(t + 3, 7);
      EXPECT_EQ(got[static_cast<size_t>(c * 7 + t)], in[static_cast<size_t>(src_c * 8 + src_t)]);
    }
  }
}

TEST(Pad, AxesInputSinceOpset18AndWrapSince19) {
  Tensor x = random_audio(2, 2, 6);
  Tensor pads = ints({2, 3});
  Tensor axes = ints({-1});
  Tensor y = run1(make_node("Pad", 4, {{"mode", std::string("reflect")}}),
                  {&x, &pads, nullptr, &axes}, 18);
  expect_time_padding(x, y, 2, 3, "reflect", 0.0f);

  Tensor w =
      run1(make_node("Pad", 4, {{"mode", std::string("wrap")}}), {&x, &pads, nullptr, &axes}, 19);
  ASSERT_EQ(w.shape(), (Shape{2, 2, 11}));
  std::vector<float> in = x.to_float_vector(), got = w.to_float_vector();
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t t = 0; t < 11; ++t)
      EXPECT_EQ(got[static_cast<size_t>(r * 11 + t)], in[static_cast<size_t>(r * 6 + (t + 4) % 6)]);
}

TEST(Pad, IntegerAndBoolTensorsCopyExactly) {
  Tensor x = Tensor::from_vector<int64_t>({2, 3}, {INT64_MAX, -1, 5, 7, 8, INT64_MIN});
  Tensor pads = ints({1, 0, 0, 1});
  Tensor value = Tensor::scalar<int64_t>(42);
  Tensor y = run1(make_node("Pad", 3), {&x, &pads, &value}, 13);
  EXPECT_EQ(y.to_int64_vector(),
            (std::vector<int64_t>{42, 42, 42, 42, INT64_MAX, -1, 5, 42, 7, 8, INT64_MIN, 42}));
  Tensor b = Tensor::from_vector<bool>({2}, {true, false});
  Tensor one_each = ints({1, 1});
  Tensor yb = run1(make_node("Pad", 2, {{"mode", std::string("edge")}}), {&b, &one_each}, 13);
  EXPECT_EQ(yb.to_float_vector(), (std::vector<float>{1, 1, 0, 0}));
}

TEST(Pad, BadInputIsRefusedNamingTheNode) {
  Tensor x = random_audio(1, 1, 4);
  Tensor too_wide = ints({0, 0, 4, 0, 0, 0});
  expect_error(
      [&] {
        run1(make_node("Pad", 2, {{"mode", std::string("reflect")}}), {&x, &too_wide}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Pad", "reflect"});
  Tensor short_pads = ints({1, 1});
  expect_error(
      [&] {
        run1(make_node("Pad", 2), {&x, &short_pads}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Pad", "2 pads for 3 axes"});
  Tensor crop_all = ints({0, 0, -3, 0, 0, -2});
  expect_error(
      [&] {
        run1(make_node("Pad", 2), {&x, &crop_all}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Pad", "crop"});
  Tensor pads = ints({0, 0, 1, 0, 0, 1});
  Tensor int_value = Tensor::scalar<int64_t>(1);
  expect_error(
      [&] {
        run1(make_node("Pad", 3), {&x, &pads, &int_value}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Pad", "constant_value"});
  // 5 * 10^9 frames (over kMaxTensorElements) is refused before anything is allocated.
  Tensor absurd = ints({0, 0, 5000000000, 0, 0, 0});
  EXPECT_THROW(
      {
        try {
          run1(make_node("Pad", 2), {&x, &absurd}, 13);
        } catch (const Error& e) {
          EXPECT_EQ(e.code(), ErrorCode::kOutOfRange) << e.what();
          throw;
        }
      },
      Error);
  EXPECT_THROW(run1(make_node("Pad", 2, {{"mode", std::string("mirror")}}), {&x, &pads}, 13),
               Error);
}

}  // namespace
}  // namespace amphora
