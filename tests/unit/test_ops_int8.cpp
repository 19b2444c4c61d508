// The int8 FusedConv / FusedConvTranspose / FusedMatMul kernels (src/ops/int8) against what the
// QDQ graph they replace computes, built from the engine's reference ops: QuantizeLinear ->
// DequantizeLinear on X (after the input LeakyRelu), DequantizeLinear on the int8 weights, the
// float op on reference kernels. The int8 products and int32 sums are exact, so only the float
// summation order and the final scaling differ: the tolerance is relative to the output's size.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "int8_test_util.hpp"
#include "op_test_util.hpp"
#include "ops/amphora_domain.hpp"
#include "ops/int8/int8_quantize.hpp"

namespace amphora {
namespace {

using testing::run_path;

struct Int8Problem {
  Tensor x, w_q, w_scale, bias, residual;
  float x_scale = 0.02f;
};

// X spread to +-3 with x_scale 0.02: values beyond 2.54 saturate, as calibrated clipping does.
Int8Problem random_problem(const Shape& x, const Shape& w, int64_t channels, const Shape& y,
                           uint32_t seed) {
  std::mt19937 rng(seed);
  Int8Problem p;
  p.x = testing::random_tensor(x, rng, 3.0f);
  p.w_q = testing::random_int8(w, rng);
  p.w_scale = Tensor(DType::kFloat32, {channels});
  std::uniform_real_distribution<float> scale(0.5e-3f, 4e-3f);
  for (int64_t c = 0; c < channels; ++c) p.w_scale.data<float>()[c] = scale(rng);
  p.bias = testing::random_tensor({channels}, rng, 0.5f);
  p.residual = testing::random_tensor(y, rng, 1.0f);
  return p;
}

Node quant_node(const std::string& op, std::map<std::string, Attribute> attributes = {}) {
  Node node = testing::make_node(op, 3, std::move(attributes));
  return node;
}

// What the QDQ graph computes: LeakyRelu(input_alpha) if any, Q, DQ, DQ of W along `axis`, then
// the float op (node with the int8 attributes removed) on the reference kernels.
Tensor qdq_reference(Node float_node, const Int8Problem& p, int64_t axis, const Tensor* residual) {
  Tensor x = p.x;
  if (float_node.has("input_activation")) {
    Node leaky = testing::make_node("LeakyRelu", 1);
    leaky.attributes["alpha"] = float_node.get_float("input_alpha", 0.01f);
    x = run_path(leaky, {&p.x}, true);
    float_node.attributes.erase("input_activation");
    float_node.attributes.erase("input_alpha");
  }
  Tensor x_dq;
  if (float_node.has("x_dynamic")) {  // DynamicQuantizeLinear: uint8 with X's range
    const std::vector<Tensor> q = testing::run_op(
        testing::make_node("DynamicQuantizeLinear", 1, {}, 3), {&x}, 17, KernelOptions{true, 0});
    x_dq = run_path(quant_node("DequantizeLinear"), {&q[0], &q[1], &q[2]}, true);
  } else {
    const Tensor x_scale = Tensor::scalar<float>(p.x_scale);
    const Tensor zero = Tensor::scalar<int8_t>(0);
    const Tensor x_q = run_path(quant_node("QuantizeLinear"), {&x, &x_scale, &zero}, true);
    x_dq = run_path(quant_node("DequantizeLinear"), {&x_q, &x_scale, &zero}, true);
  }
  Tensor zeros(DType::kInt8, p.w_scale.shape());
  const Tensor w = run_path(quant_node("DequantizeLinear", {{"axis", axis}}),
                            {&p.w_q, &p.w_scale, &zeros}, true);
  float_node.attributes.erase("x_scale");
  float_node.attributes.erase("x_dynamic");
  float_node.attributes.erase("w_scale");
  std::vector<const Tensor*> inputs = {&x_dq, &w};
  if (float_node.inputs.size() > 2)
    inputs.push_back(float_node.inputs[2].empty() ? nullptr : &p.bias);
  if (residual) inputs.push_back(residual);
  return run_path(float_node, inputs, true);
}

struct ConvCase {
  int64_t in, out, k, dilation, stride, group, length;
  bool input_leaky, activation, residual, bias;
  std::string pad_mode = "constant";
};

Node conv_node(const ConvCase& c, bool transpose, const Int8Problem& p) {
  Node node = testing::int8_fused_conv_node(transpose, c.k, c.stride, c.dilation, c.pad_mode,
                                            c.input_leaky, c.bias, c.residual);
  node.attributes["group"] = c.group;
  if (c.activation) node.attributes["activation"] = std::string("Tanh");
  node.attributes["x_scale"] = p.x_scale;
  node.attributes["w_scale"] = p.w_scale.to_float_vector();
  return node;
}

void check_conv(const ConvCase& c, bool transpose, int64_t batch, uint32_t seed,
                bool dynamic = false) {
  register_amphora_domain_ops_once();
  const Shape w = transpose ? Shape{c.in, c.out / c.group, c.k} : Shape{c.out, c.in / c.group, c.k};
  const int64_t out_len = transpose ? c.length * c.stride : c.length;
  Int8Problem p = random_problem({batch, c.in, c.length}, w, c.out, {batch, c.out, out_len}, seed);
  Node node = conv_node(c, transpose, p);
  if (dynamic) {
    node.attributes.erase("x_scale");
    node.attributes["x_dynamic"] = int64_t{1};
  }
  std::vector<const Tensor*> inputs = {&p.x, &p.w_q, c.bias ? &p.bias : nullptr};
  if (c.residual) inputs.push_back(&p.residual);
  const std::string what = node.op_type + " " + std::to_string(c.in) + "->" +
                           std::to_string(c.out) + " k" + std::to_string(c.k) + " d" +
                           std::to_string(c.dilation) + " s" + std::to_string(c.stride) + " g" +
                           std::to_string(c.group) + " batch " + std::to_string(batch) +
                           (dynamic ? " dynamic" : "");
  // The QDQ graph's float op: transpose W's per-channel axis is 1 (the only group's OC/g).
  const Tensor want = qdq_reference(node, p, transpose ? 1 : 0, c.residual ? &p.residual : nullptr);
  testing::expect_int8_close(run_path(node, inputs, false), want, what + " (oneDNN int8)");
  testing::expect_int8_close(run_path(node, inputs, true), want, what + " (int8 reference)");

  // A scale applied wrongly (one channel's off by 1%) must not pass the same comparison.
  Node wrong = node;
  std::vector<float> scales = p.w_scale.to_float_vector();
  scales[c.out / 2] *= 1.01f;
  wrong.attributes["w_scale"] = scales;
  const Tensor bad = run_path(wrong, inputs, false);
  float worst = 0, peak = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    peak = std::max(peak, std::fabs(want.data<float>()[i]));
    worst = std::max(worst, std::fabs(bad.data<float>()[i] - want.data<float>()[i]));
  }
  EXPECT_GT(worst, 2e-5f * std::max(peak, 1.0f)) << what << ": a wrong scale went unnoticed";
}

TEST(Int8Conv, MatchesTheQdqGraphOnHifiganShapes) {
  const std::vector<ConvCase> cases = {
      {64, 48, 3, 1, 1, 1, 200, false, false, false, true},
      {64, 64, 7, 1, 1, 1, 300, true, false, true, true},
      {48, 48, 3, 3, 1, 1, 257, true, true, false, true},
      {32, 32, 3, 5, 1, 1, 301, true, false, true, false},
      {32, 32, 7, 3, 1, 1, 128, false, true, true, true},
      {32, 32, 7, 1, 1, 32, 150, true, false, false, true},  // depthwise
      {32, 64, 5, 1, 1, 4, 99, false, true, true, true},     // grouped
      {16, 24, 7, 1, 1, 1, 64, true, true, false, true, "reflect"},
      // conv_post (the float narrow_conv on the quantized X, over windows of 2048 steps).
      {32, 1, 7, 1, 1, 1, 5000, true, true, false, true},
      {8, 2, 5, 2, 1, 1, 2100, true, false, true, false},
      {16, 1, 7, 1, 1, 1, 70, true, true, true, true, "reflect"},
  };
  uint32_t seed = 1;
  for (const ConvCase& c : cases) {
    for (int64_t batch : {1, 2}) check_conv(c, false, batch, seed++);
  }
}

TEST(Int8ConvTranspose, MatchesTheQdqGraphOnHifiganUpsamplers) {
  const std::vector<ConvCase> cases = {
      {64, 32, 4, 1, 2, 1, 100, false, false, false, true},
      {64, 32, 8, 1, 4, 1, 64, true, true, false, true},
      {48, 24, 16, 1, 8, 1, 33, true, false, true, true},
      {32, 16, 16, 1, 8, 1, 20, false, true, true, false},
      {24, 16, 11, 1, 5, 1, 31, true, true, true, true},  // kernel not a multiple of the stride
  };
  uint32_t seed = 100;
  // Batch 1 runs as a sub-pixel conv, batch 2 as oneDNN's int8 deconvolution.
  for (const ConvCase& c : cases) {
    for (int64_t batch : {1, 2}) check_conv(c, true, batch, seed++);
  }
}

void check_matmul(bool bias, bool gelu, bool residual, uint32_t seed, bool dynamic = false) {
  register_amphora_domain_ops_once();
  const int64_t n = 2, t = 70, c = 96, d = 80;
  Int8Problem p = random_problem({n, t, c}, {c, d}, d, {n, t, d}, seed);
  Node node = testing::make_node("FusedMatMul", {"x", "w", bias ? "b" : "", "sum"});
  if (!residual) node.inputs.pop_back();
  node.domain = kAmphoraDomain;
  if (gelu) node.attributes["activation"] = std::string("Gelu");
  if (dynamic) {
    node.attributes["x_dynamic"] = int64_t{1};
  } else {
    node.attributes["x_scale"] = p.x_scale;
  }
  node.attributes["w_scale"] = p.w_scale.to_float_vector();
  std::vector<const Tensor*> inputs = {&p.x, &p.w_q, bias ? &p.bias : nullptr};
  if (residual) inputs.push_back(&p.residual);
  const Tensor want = qdq_reference(node, p, 1, residual ? &p.residual : nullptr);
  const std::string what = std::string("MatMul") + (bias ? " bias" : "") + (gelu ? " gelu" : "") +
                           (residual ? " sum" : "") + (dynamic ? " dynamic" : "");
  testing::expect_int8_close(run_path(node, inputs, false), want, what + " (oneDNN int8)");
  testing::expect_int8_close(run_path(node, inputs, true), want, what + " (int8 reference)");
}

TEST(Int8MatMul, MatchesTheQdqGraphWithAndWithoutPostOps) {
  uint32_t seed = 200;
  for (bool bias : {false, true}) {
    for (bool gelu : {false, true}) {
      for (bool residual : {false, true}) check_matmul(bias, gelu, residual, seed++);
    }
  }
}

// DynamicQuantizeLinear's uint8 X with a zero point: the same kernels with u8 sources, the zero
// point taken out through the bias (padding, sub-pixel stacks and depthwise convs included);
// a batch-2 ConvTranspose runs the reference.
TEST(Int8Conv, DynamicQuantizationMatchesTheQdqGraph) {
  const std::vector<ConvCase> convs = {
      {64, 48, 3, 1, 1, 1, 200, false, false, false, true},
      {32, 32, 7, 3, 1, 1, 128, true, true, true, true},
      {32, 32, 7, 1, 1, 32, 150, true, false, false, false},
      {16, 24, 7, 1, 1, 1, 64, true, true, false, true, "reflect"},
      {32, 1, 7, 1, 1, 1, 3000, true, true, true, true},
  };
  uint32_t seed = 300;
  for (const ConvCase& c : convs) {
    for (int64_t batch : {1, 2}) check_conv(c, false, batch, seed++, true);
  }
  const std::vector<ConvCase> transposes = {
      {64, 32, 8, 1, 4, 1, 64, true, true, false, true},
      {32, 16, 16, 1, 8, 1, 20, false, true, true, false},
  };
  for (const ConvCase& c : transposes) {
    for (int64_t batch : {1, 2}) check_conv(c, true, batch, seed++, true);
  }
  for (bool bias : {false, true}) check_matmul(bias, !bias, bias, seed++, true);
}

// The float paths standing in for int8 kernels fake-quantize X 8 lanes at a time: the same
// values, bit for bit, as Quantizer::quantize one at a time (the tail included).
TEST(Int8Quantize, FakeQuantizeLanesMatchTheScalarQuantizer) {
  std::mt19937 rng(17);
  const Tensor x = testing::random_tensor({1003}, rng, 4.0f);
  const float* v = x.data<float>();
  for (const Quantizer& q : {Quantizer::int8(0.1f, 0.02f), Quantizer::int8(1.0f, 0.5f),
                             Quantizer::dynamic(v, x.numel(), 0.2f)}) {
    std::vector<float> got(x.numel());
    fake_quantize(v, got.data(), x.numel(), q);
    for (int64_t i = 0; i < x.numel(); ++i) {
      ASSERT_EQ(got[i], (q.quantize(v[i]) - q.zero_point) * q.scale) << i;
    }
  }
}

TEST(Int8Conv, FloatWeightsOrAWrongScaleCountAreRefusedNamingTheNode) {
  register_amphora_domain_ops_once();
  std::mt19937 rng(5);
  Int8Problem p = random_problem({1, 8, 16}, {4, 8, 3}, 4, {1, 4, 16}, 5);
  Node node = conv_node({8, 4, 3, 1, 1, 1, 16, false, false, false, true}, false, p);
  const Tensor w_float = testing::random_tensor({4, 8, 3}, rng, 1.0f);
  testing::expect_error(
      [&] {
        run_path(node, {&p.x, &w_float, &p.bias}, false);
      },
      ErrorCode::kInvalidArgument, {"test_FusedConv", "must be int8"});
  node.attributes["w_scale"] = std::vector<float>{0.1f, 0.2f};
  testing::expect_error(
      [&] {
        run_path(node, {&p.x, &p.w_q, &p.bias}, false);
      },
      ErrorCode::kInvalidModel, {"test_FusedConv", "2 w_scale values for 4 output channels"});
}

}  // namespace
}  // namespace amphora
