// Resize: nearest in every coordinate/nearest mode (expected source indices worked out by hand
// from the ONNX formulas), scales vs sizes, empty roi, opset 10/11/18 forms, linear and cubic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <numeric>

#include "ops/kernel.hpp"

namespace amphora {
namespace {

Node resize_node(std::map<std::string, Attribute> attributes, size_t inputs = 4) {
  Node node;
  node.name = "test_Resize";
  node.op_type = "Resize";
  for (size_t i = 0; i < inputs; ++i) node.inputs.push_back("in" + std::to_string(i));
  node.outputs = {"out"};
  node.attributes = std::move(attributes);
  return node;
}

Tensor run_resize(const Node& node, int64_t opset, std::vector<const Tensor*> inputs) {
  return OpRegistry::instance().create(node, opset, {})->run(inputs).at(0);
}

Tensor ramp(const Shape& shape) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  std::iota(v.begin(), v.end(), 0.0f);
  return Tensor::from_vector<float>(shape, v);
}

Tensor scales_of(std::vector<float> v) {
  return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
}
Tensor sizes_of(std::vector<int64_t> v) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
}

template <typename Fn>
void expect_error(Fn fn, ErrorCode code, const std::string& fragment) {
  try {
    fn();
    FAIL() << "expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find("test_Resize"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

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
  Tensor x = ramp({1, 1, 4});
  Tensor scales = scales_of({1, 1, 1.5f});
  for (const Case& c : cases) {
    Node node = resize_node({{"coordinate_transformation_mode", std::string(c.coordinates)},
                             {"nearest_mode", std::string(c.rounding)}});
    Tensor y = run_resize(node, 13, {&x, nullptr, &scales, nullptr});
    EXPECT_EQ(y.shape(), (Shape{1, 1, 6}));
    EXPECT_EQ(y.to_float_vector(), c.want) << c.coordinates << " / " << c.rounding;
  }
}

TEST(ResizeNearest, UpsamplesAudioLikeTorchInterpolate) {
  // torch.nn.functional.interpolate(mode="nearest") exports asymmetric + floor.
  Tensor x = ramp({2, 3, 5});
  Tensor sizes = sizes_of({2, 3, 15});
  Node node = resize_node({{"coordinate_transformation_mode", std::string("asymmetric")},
                           {"nearest_mode", std::string("floor")}});
  Tensor y = run_resize(node, 13, {&x, nullptr, nullptr, &sizes});
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
  Tensor sizes = sizes_of({2, 4});
  Tensor y = run_resize(resize_node({}), 11, {&x, &empty_roi, &empty_scales, &sizes});
  EXPECT_EQ(y.dtype(), DType::kInt64);
  EXPECT_EQ(y.to_int64_vector(),
            (std::vector<int64_t>{INT64_MIN, INT64_MIN, 9, 9, INT64_MIN, INT64_MIN, 9, 9}));
  // Opset 10: (X, scales), asymmetric coordinates.
  Tensor f = ramp({1, 3});
  Tensor scales = scales_of({1, 2});
  Tensor z = run_resize(resize_node({}, 2), 10, {&f, &scales});
  EXPECT_EQ(z.to_float_vector(), (std::vector<float>{0, 0, 1, 1, 2, 2}));
}

TEST(ResizeLinear, OneDimensionalHalfPixelMatchesClampedLerp) {
  Tensor x = Tensor::from_vector<float>({1, 1, 4}, {1.0f, 3.0f, -2.0f, 5.0f});
  Tensor sizes = sizes_of({1, 1, 10});
  Tensor y = run_resize(resize_node({{"mode", std::string("linear")}}), 13,
                        {&x, nullptr, nullptr, &sizes});
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
  Tensor sizes = sizes_of({1, 1, 3, 3});
  Node node = resize_node({{"mode", std::string("linear")},
                           {"coordinate_transformation_mode", std::string("align_corners")}});
  Tensor y = run_resize(node, 13, {&x, nullptr, nullptr, &sizes});
  // Corners stay; midpoints average their neighbours; the centre averages all four.
  std::vector<float> want{0.0f, 0.5f, 1.0f, 1.0f, 1.75f, 2.5f, 2.0f, 3.0f, 4.0f};
  std::vector<float> got = y.to_float_vector();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << i;
}

TEST(ResizeCubic, KeepsConstantsAndInteriorSamplesOfAnUpsample) {
  Tensor x = Tensor::from_vector<float>({1, 6}, {2, 2, 2, 2, 2, 2});
  Tensor scales = scales_of({1, 2});
  Node node = resize_node({{"mode", std::string("cubic")}});
  for (float v : run_resize(node, 13, {&x, nullptr, &scales, nullptr}).to_float_vector()) {
    EXPECT_NEAR(v, 2.0f, 1e-6);
  }
  // align_corners with (n-1)*2+1 outputs hits every input sample exactly at even positions.
  Tensor r = Tensor::from_vector<float>({1, 4}, {1, -3, 4, 0.5f});
  Tensor sizes = sizes_of({1, 7});
  Node corners = resize_node({{"mode", std::string("cubic")},
                              {"coordinate_transformation_mode", std::string("align_corners")}});
  std::vector<float> got =
      run_resize(corners, 13, {&r, nullptr, nullptr, &sizes}).to_float_vector();
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(got[2 * i], r.to_float_vector()[i], 1e-6);
  // Midpoint between samples 1 and 2 with A = -0.75: weights (-0.09375, 0.59375, 0.59375,
  // -0.09375).
  EXPECT_NEAR(got[3], -0.09375f * 1 + 0.59375f * (-3 + 4) - 0.09375f * 0.5f, 1e-5);
}

TEST(ResizeCropAndResize, OutsideTheRoiTakesTheExtrapolationValue) {
  Tensor x = ramp({1, 5});
  Tensor roi = scales_of({0, 0.5f, 1, 1.5f});  // axis 1 from 0.5*(5-1)=2 to 1.5*4=6
  Tensor sizes = sizes_of({1, 5});
  Node node = resize_node({{"mode", std::string("linear")},
                           {"coordinate_transformation_mode", std::string("tf_crop_and_resize")},
                           {"extrapolation_value", -7.0f}});
  std::vector<float> got = run_resize(node, 13, {&x, &roi, nullptr, &sizes}).to_float_vector();
  EXPECT_EQ(got, (std::vector<float>{2, 3, 4, -7, -7}));
}

TEST(ResizeOpset18, AxesAndKeepAspectRatio) {
  Tensor x = ramp({1, 2, 3});
  Tensor scales = scales_of({2});
  Node node = resize_node({{"axes", std::vector<int64_t>{-1}},
                           {"coordinate_transformation_mode", std::string("asymmetric")},
                           {"nearest_mode", std::string("floor")}});
  Tensor y = run_resize(node, 18, {&x, nullptr, &scales, nullptr});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 6}));
  EXPECT_EQ(y.to_float_vector(), (std::vector<float>{0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5}));

  // 2x3 into at most 4x4 keeping the aspect ratio: scale min(2, 4/3) -> 3x4.
  Tensor sizes = sizes_of({4, 4});
  Node keep = resize_node({{"axes", std::vector<int64_t>{1, 2}},
                           {"keep_aspect_ratio_policy", std::string("not_larger")}});
  EXPECT_EQ(run_resize(keep, 18, {&x, nullptr, nullptr, &sizes}).shape(), (Shape{1, 3, 4}));
  Node larger = resize_node({{"axes", std::vector<int64_t>{1, 2}},
                             {"keep_aspect_ratio_policy", std::string("not_smaller")}});
  EXPECT_EQ(run_resize(larger, 18, {&x, nullptr, nullptr, &sizes}).shape(), (Shape{1, 4, 6}));
}

TEST(Resize, BadInputIsRefusedNamingTheNode) {
  Tensor x = ramp({1, 4});
  Tensor scales = scales_of({1, 2});
  Tensor sizes = sizes_of({1, 8});
  expect_error(
      [&] {
        run_resize(resize_node({}), 13, {&x, nullptr, &scales, &sizes});
      },
      ErrorCode::kInvalidArgument, "exactly one");
  expect_error(
      [&] {
        run_resize(resize_node({}), 13, {&x, nullptr, nullptr, nullptr});
      },
      ErrorCode::kInvalidArgument, "exactly one");
  Tensor short_scales = scales_of({2});
  expect_error(
      [&] {
        run_resize(resize_node({}), 13, {&x, nullptr, &short_scales, nullptr});
      },
      ErrorCode::kInvalidArgument, "1 scales for 2 axes");
  Tensor negative = scales_of({1, -2});
  expect_error(
      [&] {
        run_resize(resize_node({}), 13, {&x, nullptr, &negative, nullptr});
      },
      ErrorCode::kInvalidArgument, "scale -2");
  Tensor ix = Tensor::from_vector<int32_t>({1, 2}, {1, 2});
  expect_error(
      [&] {
        run_resize(resize_node({{"mode", std::string("linear")}}), 13,
                   {&ix, nullptr, &scales, nullptr});
      },
      ErrorCode::kUnsupported, "int32");
  expect_error(
      [&] {
        run_resize(resize_node({{"antialias", int64_t{1}}}), 18, {&x, nullptr, &scales, nullptr});
      },
      ErrorCode::kUnsupported, "antialias");
  Tensor huge = scales_of({1, 1e12f});
  expect_error(
      [&] {
        run_resize(resize_node({}), 13, {&x, nullptr, &huge, nullptr});
      },
      ErrorCode::kInvalidArgument, "scale");
}

}  // namespace
}  // namespace amphora
