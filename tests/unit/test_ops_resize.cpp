// Resize: nearest in every coordinate/nearest mode (expected source indices worked out by hand
// from the ONNX formulas), scales vs sizes, empty roi, opset 10/11/18 forms, linear and cubic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

using namespace testing;

// 4 frames -> 6 frames (scale 1.5); the input is 0..3 so each output value is its source index.
TEST(ResizeNearest, EveryCoordinateAndRoundingMode) {
  struct Case {
    const char* coordinates;
    const char* rounding;
    std::vector<float> want;
  };
  // half_pixel sources: -0.17 0.5 1.17 1.83 2.5 3.17; align_corners: 0 .6 1.2 1.8 2.4 3;
  // asymmetric: 0 .67 1.33 2 2.67 3.33; tf_half_pixel_for_nn: .33 1 1.67 2.33 3 3.67.
  std::vector<Case> cases = {
      {"half_pixel", "round_prefer_floor", {0, 0, 1, 2, 2, 3}},
      {"half_pixel", "round_prefer_ceil", {0, 1, 1, 2, 3, 3}},
      {"half_pixel", "floor", {0, 0, 1, 1, 2, 3}},
      {"half_pixel", "ceil", {0, 1, 2, 2, 3, 3}},
      {"pytorch_half_pixel", "round_prefer_floor", {0, 0, 1, 2, 2, 3}},
      {"align_corners", "round_prefer_floor", {0, 1, 1, 2, 2, 3}},
      {"asymmetric", "floor", {0, 0, 1, 2, 2, 3}},
      {"tf_half_pixel_for_nn", "floor", {0, 1, 1, 2, 3, 3}},
  };
  Tensor x = iota_float({1, 1, 4});
  Tensor scales = floats({1, 1, 1.5f});
  for (const Case& c : cases) {
    Node node = make_node("Resize", 4,
                          {{"coordinate_transformation_mode", std::string(c.coordinates)},
                           {"nearest_mode", std::string(c.rounding)}});
    Tensor y = run1(node, {&x, nullptr, &scales, nullptr}, 13);
    EXPECT_EQ(y.shape(), (Shape{1, 1, 6}));
    EXPECT_EQ(y.to_float_vector(), c.want) << c.coordinates << " / " << c.rounding;
  }
}

TEST(ResizeNearest, UpsamplesAudioLikeTorchInterpolate) {
  // torch.nn.functional.interpolate(mode="nearest") exports asymmetric + floor.
  Tensor x = iota_float({2, 3, 5});
  Tensor sizes = ints({2, 3, 15});
  Node node = make_node("Resize", 4,
                        {{"coordinate_transformation_mode", std::string("asymmetric")},
                         {"nearest_mode", std::string("floor")}});
  Tensor y = run1(node, {&x, nullptr, nullptr, &sizes}, 13);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 15}));
  std::vector<float> got = y.to_float_vector();
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t t = 0; t < 15; ++t)
      EXPECT_EQ(got[static_cast<size_t>(r * 15 + t)], static_cast<float>(r * 5 + t / 3));
}

TEST(ResizeNearest, EmptyRoiAndScalesAtOpset11AndOpset10Form) {
  Tensor x = Tensor::from_vector<int64_t>({1, 2}, {INT64_MIN, 9});
  Tensor empty_roi(DType::kFloat32, {0});
  Tensor empty_scales(DType::kFloat32, {0});
  Tensor sizes = ints({2, 4});
  Tensor y = run1(make_node("Resize", 4), {&x, &empty_roi, &empty_scales, &sizes}, 11);
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.to_int64_vector(),
            (std::vector<int64_t>{INT64_MIN, INT64_MIN, 9, 9, INT64_MIN, INT64_MIN, 9, 9}));
  // Opset 10: (X, scales), asymmetric coordinates.
  Tensor f = iota_float({1, 3});
  Tensor scales = floats({1, 2});
  Tensor z = run1(make_node("Resize", 2), {&f, &scales}, 10);
  EXPECT_EQ(z.to_float_vector(), (std::vector<float>{0, 0, 1, 1, 2, 2}));
}

TEST(Upsample, Opset7AttributeAndOpset9InputScales) {
  Tensor x = iota_float({1, 1, 3});
  Node node = make_node("Resize", 1, {{"scales", std::vector<float>{1, 1, 2}}});
  node.op_type = "Upsample";
  node.name = "test_Resize_upsample";
  EXPECT_EQ(run1(node, {&x}, 7).to_float_vector(), (std::vector<float>{0, 0, 1, 1, 2, 2}));
  Node linear = make_node("Resize", 2, {{"mode", std::string("linear")}});
  linear.op_type = "Upsample";
  Tensor scales = floats({1, 1, 2});
  // Asymmetric coordinates: sources 0, 0.5, 1, 1.5, 2, 2.5 (clamped to 2).
  EXPECT_EQ(run1(linear, {&x, &scales}, 9).to_float_vector(),
            (std::vector<float>{0, 0.5f, 1, 1.5f, 2, 2}));
  Tensor shrink = floats({1, 1, 0.5f});
  expect_error(
      [&] {
        run1(linear, {&x, &shrink}, 9);
      },
      ErrorCode::kInvalidArgument, {"test_Resize", "below 1"});
}

TEST(ResizeLinear, OneDimensionalHalfPixelMatchesClampedLerp) {
  Tensor x = Tensor::from_vector<float>({1, 1, 4}, {1.0f, 3.0f, -2.0f, 5.0f});
  Tensor sizes = ints({1, 1, 10});
  Tensor y = run1(make_node("Resize", 4, {{"mode", std::string("linear")}}),
                  {&x, nullptr, nullptr, &sizes}, 13);
  ASSERT_EQ(y.shape(), (Shape{1, 1, 10}));
  std::vector<float> in = x.to_float_vector(), got = y.to_float_vector();
  for (int64_t i = 0; i < 10; ++i) {
    double src = std::clamp((i + 0.5) * 4.0 / 10.0 - 0.5, 0.0, 3.0);
    int64_t lo = static_cast<int64_t>(std::floor(src));
    int64_t hi = std::min<int64_t>(lo + 1, 3);
    double w = src - static_cast<double>(lo);
    EXPECT_NEAR(got[static_cast<size_t>(i)],
                in[static_cast<size_t>(lo)] * (1 - w) + in[static_cast<size_t>(hi)] * w, 1e-6);
  }
}

TEST(ResizeLinear, TwoDimensionalAlignCornersIsBilinear) {
  Tensor x = Tensor::from_vector<float>({1, 1, 2, 2}, {0.0f, 1.0f, 2.0f, 4.0f});
  Tensor sizes = ints({1, 1, 3, 3});
  Node node = make_node("Resize", 4,
                        {{"mode", std::string("linear")},
                         {"coordinate_transformation_mode", std::string("align_corners")}});
  Tensor y = run1(node, {&x, nullptr, nullptr, &sizes}, 13);
  // Corners stay; midpoints average their neighbours; the centre averages all four.
  std::vector<float> want{0.0f, 0.5f, 1.0f, 1.0f, 1.75f, 2.5f, 2.0f, 3.0f, 4.0f};
  std::vector<float> got = y.to_float_vector();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(ResizeCubic, KeepsConstantsAndInteriorSamplesOfAnUpsample) {
  Tensor x = Tensor::from_vector<float>({1, 6}, {2, 2, 2, 2, 2, 2});
  Tensor scales = floats({1, 2});
  Node node = make_node("Resize", 4, {{"mode", std::string("cubic")}});
  for (float v : run1(node, {&x, nullptr, &scales, nullptr}, 13).to_float_vector()) {
    EXPECT_NEAR(v, 2.0f, 1e-6);
  }
  // align_corners with (n-1)*2+1 outputs hits every input sample exactly at even positions.
  Tensor r = Tensor::from_vector<float>({1, 4}, {1, -3, 4, 0.5f});
  Tensor sizes = ints({1, 7});
  Node corners = make_node("Resize", 4,
                           {{"mode", std::string("cubic")},
                            {"coordinate_transformation_mode", std::string("align_corners")}});
  std::vector<float> got = run1(corners, {&r, nullptr, nullptr, &sizes}, 13).to_float_vector();
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(got[2 * i], r.to_float_vector()[i], 1e-6);
  // Midpoint between samples 1 and 2 with A = -0.75: weights (-0.09375, 0.59375, 0.59375,
  // -0.09375).
  EXPECT_NEAR(got[3], -0.09375f * 1 + 0.59375f * (-3 + 4) - 0.09375f * 0.5f, 1e-5);
}

TEST(ResizeCropAndResize, OutsideTheRoiTakesTheExtrapolationValue) {
  Tensor x = iota_float({1, 5});
  Tensor roi = floats({0, 0.5f, 1, 1.5f});  // axis 1 from 0.5*(5-1)=2 to 1.5*4=6
  Tensor sizes = ints({1, 5});
  Node node = make_node("Resize", 4,
                        {{"mode", std::string("linear")},
                         {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                         {"extrapolation_value", -7.0f}});
  std::vector<float> got = run1(node, {&x, &roi, nullptr, &sizes}, 13).to_float_vector();
  EXPECT_EQ(got, (std::vector<float>{2, 3, 4, -7, -7}));
}

TEST(ResizeOpset18, AxesAndKeepAspectRatio) {
  Tensor x = iota_float({1, 2, 3});
  Tensor scales = floats({2});
  Node node = make_node("Resize", 4,
                        {{"axes", std::vector<int64_t>{-1}},
                         {"coordinate_transformation_mode", std::string("asymmetric")},
                         {"nearest_mode", std::string("floor")}});
  Tensor y = run1(node, {&x, nullptr, &scales, nullptr}, 18);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 6}));
  EXPECT_EQ(y.to_float_vector(), (std::vector<float>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}));

  // 2x3 into at most 4x4 keeping the aspect ratio: scale min(2, 4/3) -> 3x4.
  Tensor sizes = ints({4, 4});
  Node keep = make_node("Resize", 4,
                        {{"axes", std::vector<int64_t>{1, 2}},
                         {"keep_aspect_ratio_policy", std::string("not_larger")}});
  EXPECT_EQ(run1(keep, {&x, nullptr, nullptr, &sizes}, 18).shape(), (Shape{1, 3, 4}));
  Node larger = make_node("Resize", 4,
                          {{"axes", std::vector<int64_t>{1, 2}},
                           {"keep_aspect_ratio_policy", std::string("not_smaller")}});
  EXPECT_EQ(run1(larger, {&x, nullptr, nullptr, &sizes}, 18).shape(), (Shape{1, 4, 6}));
}

TEST(Resize, BadInputIsRefusedNamingTheNode) {
  Tensor x = iota_float({1, 4});
  Tensor scales = floats({1, 2});
  Tensor sizes = ints({1, 8});
  expect_error(
      [&] {
        run1(make_node("Resize", 4), {&x, nullptr, &scales, &sizes}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Resize", "exactly one"});
  expect_error(
      [&] {
        run1(make_node("Resize", 4), {&x, nullptr, nullptr, nullptr}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Resize", "exactly one"});
  Tensor short_scales = floats({2});
  expect_error(
      [&] {
        run1(make_node("Resize", 4), {&x, nullptr, &short_scales, nullptr}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Resize", "1 scales for 2 axes"});
  Tensor negative = floats({1, -2});
  expect_error(
      [&] {
        run1(make_node("Resize", 4), {&x, nullptr, &negative, nullptr}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Resize", "scale -2"});
  Tensor ix = Tensor::from_vector<int32_t>({1, 2}, {1, 2});
  expect_error(
      [&] {
        run1(make_node("Resize", 4, {{"mode", std::string("linear")}}),
             {&ix, nullptr, &scales, nullptr}, 13);
      },
      ErrorCode::kUnsupported, {"test_Resize", "int32"});
  expect_error(
      [&] {
        run1(make_node("Resize", 4, {{"antialias", int64_t{1}}}), {&x, nullptr, &scales, nullptr},
             18);
      },
      ErrorCode::kUnsupported, {"test_Resize", "antialias"});
  Tensor huge = floats({1, 1e12f});
  expect_error(
      [&] {
        run1(make_node("Resize", 4), {&x, nullptr, &huge, nullptr}, 13);
      },
      ErrorCode::kInvalidArgument, {"test_Resize", "scale"});
}

}  // namespace
}  // namespace amphora
