// QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear against the ONNX formulas written
// out here: rounding half to even, saturation, per-axis scales, and the errors that name the
// node. (The ONNX node tests, build/tests/run_node_tests, check them against the spec's data.)
#include <gtest/gtest.h>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

using namespace testing;

TEST(Quantize, RoundsHalfToEvenSaturatesAndTakesTheZeroPointsType) {
  const Tensor x = Tensor::from_vector<float>({7}, {0.0f, 1.0f, 3.0f, 5.0f, -3.0f, 1000.0f, -1000.0f});
  const Tensor scale = Tensor::scalar<float>(2.0f);
  const Tensor zp_u8 = Tensor::scalar<uint8_t>(128);
  const Tensor u8 = run1(make_node("QuantizeLinear", 3), {&x, &scale, &zp_u8}, 13);
  ASSERT_EQ(u8.dtype(), DType::kUint8);
  // 0.5 -> 0 and 1.5 -> 2 and 2.5 -> 2 and -1.5 -> -2 (half to even), then + 128, clamped.
  EXPECT_EQ(u8.to_int64_vector(), (std::vector<int64_t>{128, 128, 130, 130, 126, 255, 0}));
  const Tensor zp_s8 = Tensor::scalar<int8_t>(-1);
  const Tensor s8 = run1(make_node("QuantizeLinear", 3), {&x, &scale, &zp_s8}, 13);
  ASSERT_EQ(s8.dtype(), DType::kInt8);
  EXPECT_EQ(s8.to_int64_vector(), (std::vector<int64_t>{-1, -1, 1, 1, -3, 127, -128}));
  const Tensor none = run1(make_node("QuantizeLinear", 2), {&x, &scale}, 10);
  EXPECT_EQ(none.dtype(), DType::kUint8);  // no zero point: uint8 around 0
  EXPECT_EQ(none.to_int64_vector(), (std::vector<int64_t>{0, 0, 2, 2, 0, 255, 0}));
}

TEST(Quantize, PerAxisScalesRoundTripThroughDequantize) {
  // x [2, 3, 2]; one scale and zero point per channel (axis 1).
  std::vector<float> values;
  for (int i = 0; i < 12; ++i) values.push_back(0.37f * static_cast<float>(i) - 2.0f);
  const Tensor x = Tensor::from_vector<float>({2, 3, 2}, values);
  const Tensor scale = Tensor::from_vector<float>({3}, {0.01f, 0.02f, 0.05f});
  const Tensor zp = Tensor::from_vector<int8_t>({3}, {0, 3, -4});
  const Tensor q = run1(make_node("QuantizeLinear", 3), {&x, &scale, &zp}, 13);
  const Tensor back = run1(make_node("DequantizeLinear", 3), {&q, &scale, &zp}, 13);
  ASSERT_EQ(back.shape(), x.shape());
  for (int64_t i = 0; i < 12; ++i) {
    const int64_t c = (i / 2) % 3;
    const float s = scale.data<float>()[c];
    const float want = std::clamp(std::nearbyint(values[i] / s) + zp.data<int8_t>()[c], -128.0f,
                                  127.0f);
    EXPECT_EQ(q.data<int8_t>()[i], static_cast<int8_t>(want)) << i;
    EXPECT_FLOAT_EQ(back.data<float>()[i], (want - zp.data<int8_t>()[c]) * s) << i;
  }
  // axis -1 names the last axis: two scales.
  const Tensor last = Tensor::from_vector<float>({2}, {0.1f, 0.2f});
  const Tensor q_last =
      run1(make_node("QuantizeLinear", 2, {{"axis", int64_t{-1}}}), {&x, &last}, 13);
  EXPECT_EQ(q_last.data<uint8_t>()[1], 0);  // -1.63 / 0.2 saturates at 0
}

TEST(Quantize, DequantizeInt32HasNoZeroPoint) {
  const Tensor x = Tensor::from_vector<int32_t>({3}, {-70000, 0, 5});
  const Tensor scale = Tensor::scalar<float>(0.5f);
  EXPECT_EQ(run1(make_node("DequantizeLinear", 2), {&x, &scale}, 13).to_float_vector(),
            (std::vector<float>{-35000.0f, 0.0f, 2.5f}));
}

TEST(Quantize, DynamicQuantizeMapsTheRangeWithZeroOntoUint8) {
  const Tensor x = Tensor::from_vector<float>({4}, {-1.0f, 0.0f, 1.0f, 2.0f});
  const std::vector<Tensor> out = run_op(make_node("DynamicQuantizeLinear", 1, {}, 3), {&x}, 11);
  ASSERT_EQ(out.size(), 3u);
  const float scale = out[1].data<float>()[0];
  EXPECT_FLOAT_EQ(scale, 3.0f / 255.0f);
  EXPECT_EQ(out[2].data<uint8_t>()[0], 85);  // round(1 / scale) = round(85)
  EXPECT_EQ(out[0].to_int64_vector(), (std::vector<int64_t>{0, 85, 170, 255}));
  const Tensor zeros = Tensor::from_vector<float>({2}, {0.0f, 0.0f});
  const std::vector<Tensor> z = run_op(make_node("DynamicQuantizeLinear", 1, {}, 3), {&zeros}, 11);
  EXPECT_EQ(z[0].to_int64_vector(), (std::vector<int64_t>{0, 0}));
}

TEST(Quantize, BadScalesAndTypesAreRefusedNamingTheNode) {
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor two = Tensor::from_vector<float>({2}, {1.0f, 2.0f});  // axis 1 has 3
  expect_error([&] { run1(make_node("QuantizeLinear", 2), {&x, &two}, 13); },
               ErrorCode::kInvalidArgument, {"test_QuantizeLinear", "2 scales for axis 1 of size 3"});
  const Tensor scale = Tensor::scalar<float>(1.0f);
  const Tensor zp32 = Tensor::scalar<int32_t>(0);
  expect_error([&] { run1(make_node("QuantizeLinear", 3), {&x, &scale, &zp32}, 13); },
               ErrorCode::kUnsupported, {"test_QuantizeLinear", "int32"});
  const Tensor q = Tensor::from_vector<uint8_t>({2}, {1, 2});
  const Tensor zp_s8 = Tensor::scalar<int8_t>(0);
  expect_error([&] { run1(make_node("DequantizeLinear", 3), {&q, &scale, &zp_s8}, 13); },
               ErrorCode::kUnsupported, {"test_DequantizeLinear", "int8"});
  expect_error(
      [&] { run1(make_node("QuantizeLinear", 2, {{"block_size", int64_t{4}}}), {&x, &scale}, 21); },
      ErrorCode::kUnsupported, {"block_size"});
}

}  // namespace
}  // namespace amphora
