// com.amphora DwConvLayerNorm (channels-last depthwise conv + LayerNorm) and FusedMatMul's
// residual Sum: the fast paths against the reference paths, the reference against the ONNX ops
// it replaces, and the property streaming relies on (an output step computed from a window of
// the input is the same value as offline).
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "op_test_util.hpp"
#include "ops/amphora_domain.hpp"

namespace amphora {
namespace {

using namespace testing;

Node dw_norm_node(int64_t k, int64_t dilation, int64_t pad_begin, int64_t pad_end, bool conv_bias,
                  bool norm_bias) {
  register_amphora_domain_ops_once();
  Node node;
  node.name = "block_3";
  node.domain = kAmphoraDomain;
  node.op_type = "DwConvLayerNorm";
  node.inputs = {"x", "w", conv_bias ? "b" : "", "scale"};
  if (norm_bias) node.inputs.push_back("shift");
  node.outputs = {"y"};
  node.attributes["kernel_shape"] = std::vector<int64_t>{k};
  node.attributes["pads"] = std::vector<int64_t>{pad_begin, pad_end};
  node.attributes["dilations"] = std::vector<int64_t>{dilation};
  node.attributes["epsilon"] = 1e-6f;
  return node;
}

// Transposes the last two axes of a rank-3 tensor.
Tensor swap_last_two(const Tensor& x) {
  Tensor y(DType::kFloat32, {x.dim(0), x.dim(2), x.dim(1)});
  for (int64_t n = 0; n < x.dim(0); ++n) {
    for (int64_t i = 0; i < x.dim(1); ++i) {
      for (int64_t j = 0; j < x.dim(2); ++j) {
        y.data<float>()[(n * x.dim(2) + j) * x.dim(1) + i] =
            x.data<float>()[(n * x.dim(1) + i) * x.dim(2) + j];
      }
    }
  }
  return y;
}

struct Case {
  int64_t batch, steps, channels, k, dilation, pad_begin, pad_end;
  bool conv_bias, norm_bias;
};

const Case kCases[] = {
    {1, 64, 512, 7, 1, 3, 3, true, true},  // Vocos small's blocks
    {2, 9, 37, 7, 1, 3, 3, true, true},    // odd channels: vector tails
    {1, 1, 16, 7, 1, 3, 3, true, false},   // one step: every tap but one in the padding
    {1, 20, 24, 3, 2, 1, 3, false, true},  // dilated, uneven padding, no conv bias
    {1, 12, 8, 5, 1, 0, 0, true, true},    // no padding: shorter output
};

TEST(DwConvLayerNorm, FastPathMatchesReference) {
  std::mt19937 rng(11);
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "T " << c.steps << " C " << c.channels << " K " << c.k);
    const Node node = dw_norm_node(c.k, c.dilation, c.pad_begin, c.pad_end, c.conv_bias,
                                   c.norm_bias);
    Tensor x = random_tensor({c.batch, c.steps, c.channels}, rng);
    Tensor w = random_tensor({c.channels, 1, c.k}, rng), b = random_tensor({c.channels}, rng);
    Tensor scale = random_tensor({c.channels}, rng), shift = random_tensor({c.channels}, rng);
    std::vector<const Tensor*> in = {&x, &w, c.conv_bias ? &b : nullptr, &scale};
    if (c.norm_bias) in.push_back(&shift);
    Tensor reference = run_path(node, in, true);
    EXPECT_EQ(reference.shape(),
              (Shape{c.batch, c.steps + c.pad_begin + c.pad_end - c.dilation * (c.k - 1),
                     c.channels}));
    expect_paths_agree(node, in);
  }
}

// The reference is the graph it replaces: Conv(group = C) on [N, C, T], Transpose,
// LayerNormalization over the channels.
TEST(DwConvLayerNorm, ReferenceIsConvTransposeLayerNorm) {
  std::mt19937 rng(12);
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "T " << c.steps << " C " << c.channels << " K " << c.k);
    Tensor x = random_tensor({c.batch, c.steps, c.channels}, rng);
    Tensor w = random_tensor({c.channels, 1, c.k}, rng), b = random_tensor({c.channels}, rng);
    Tensor scale = random_tensor({c.channels}, rng), shift = random_tensor({c.channels}, rng);
    std::vector<const Tensor*> in = {&x, &w, c.conv_bias ? &b : nullptr, &scale};
    if (c.norm_bias) in.push_back(&shift);
    const Tensor fused = run_path(
        dw_norm_node(c.k, c.dilation, c.pad_begin, c.pad_end, c.conv_bias, c.norm_bias), in, true);

    Node conv = make_node("Conv", {"x", "w", "b"},
                          {{"group", c.channels},
                           {"kernel_shape", std::vector<int64_t>{c.k}},
                           {"pads", std::vector<int64_t>{c.pad_begin, c.pad_end}},
                           {"dilations", std::vector<int64_t>{c.dilation}}});
    if (!c.conv_bias) conv.inputs.pop_back();
    const Tensor x_ct = swap_last_two(x);
    std::vector<const Tensor*> conv_in = {&x_ct, &w};
    if (c.conv_bias) conv_in.push_back(&b);
    const Tensor conv_out = swap_last_two(run_path(conv, conv_in, true));
    Node norm = make_node("LayerNormalization", {"x", "scale", "shift"},
                          {{"axis", int64_t{-1}}, {"epsilon", 1e-6f}});
    std::vector<const Tensor*> norm_in = {&conv_out, &scale};
    if (c.norm_bias) {
      norm_in.push_back(&shift);
    } else {
      norm.inputs.pop_back();
    }
    const Tensor expected = run_path(norm, norm_in, true);
    ASSERT_EQ(fused.shape(), expected.shape());
    EXPECT_LT(relative_error(fused, expected), 1e-5);
  }
}

// What the streamer does: output steps [from, to) from the input window they need, run without
// padding (zeros where the window leaves the input), must be the offline values bit for bit.
TEST(DwConvLayerNorm, WindowsGiveTheOfflineValuesExactly) {
  std::mt19937 rng(13);
  const int64_t steps = 40, channels = 48, k = 7, pad = 3;
  Tensor x = random_tensor({1, steps, channels}, rng);
  Tensor w = random_tensor({channels, 1, k}, rng), b = random_tensor({channels}, rng);
  Tensor scale = random_tensor({channels}, rng), shift = random_tensor({channels}, rng);
  const Tensor offline =
      run_path(dw_norm_node(k, 1, pad, pad, true, true), {&x, &w, &b, &scale, &shift}, false);
  const Node unpadded = dw_norm_node(k, 1, 0, 0, true, true);
  for (auto [from, to] : {std::pair<int64_t, int64_t>{0, 5}, {5, 6}, {6, 33}, {33, 40}}) {
    const int64_t lo = from - pad, hi = to - pad + k - 1;  // input steps [lo, hi)
    Tensor window(DType::kFloat32, {1, hi - lo, channels});
    for (int64_t s = lo; s < hi; ++s) {
      if (s < 0 || s >= steps) continue;
      std::memcpy(window.data<float>() + (s - lo) * channels, x.data<float>() + s * channels,
                  sizeof(float) * channels);
    }
    const Tensor part = run_path(unpadded, {&window, &w, &b, &scale, &shift}, false);
    ASSERT_EQ(part.shape(), (Shape{1, to - from, channels}));
    EXPECT_EQ(std::memcmp(part.data<float>(), offline.data<float>() + from * channels,
                          sizeof(float) * (to - from) * channels),
              0)
        << "steps " << from << ".." << to;
  }
}

TEST(DwConvLayerNorm, BadShapesAndAttributesNameTheNode) {
  std::mt19937 rng(14);
  const Node node = dw_norm_node(7, 1, 3, 3, true, true);
  Tensor x = random_tensor({1, 10, 8}, rng), w = random_tensor({6, 1, 7}, rng);
  Tensor v = random_tensor({8}, rng);
  EXPECT_EQ(error_of(node, {&x, &w, &v, &v, &v}, "block_3"), ErrorCode::kInvalidArgument);
  Tensor w8 = random_tensor({8, 1, 7}, rng), v5 = random_tensor({5}, rng);
  EXPECT_EQ(error_of(node, {&x, &w8, &v, &v5, &v}, "Scale"), ErrorCode::kInvalidArgument);
  Node strided = node;
  strided.attributes["strides"] = std::vector<int64_t>{2};
  expect_error([&] { OpRegistry::instance().create(strided, 1, KernelOptions{}); },
               ErrorCode::kInvalidModel, {"block_3", "stride 1"});
}

Node fused_matmul_node(bool gelu) {
  register_amphora_domain_ops_once();
  Node node;
  node.name = "pwconv2";
  node.domain = kAmphoraDomain;
  node.op_type = "FusedMatMul";
  node.inputs = {"a", "b", "bias", "sum"};
  node.outputs = {"y"};
  if (gelu) node.attributes["activation"] = std::string("Gelu");
  return node;
}

// Y = activation(A x B + bias) + Sum, on the small-row kernel (<= 64 rows), oneDNN (more rows)
// and the reference.
TEST(FusedMatMul, ResidualSumOnEveryPath) {
  std::mt19937 rng(15);
  for (bool gelu : {false, true}) {
    for (int64_t rows : {1, 16, 65, 300}) {
      SCOPED_TRACE(::testing::Message() << "rows " << rows << " gelu " << gelu);
      const Node node = fused_matmul_node(gelu);
      Tensor a = random_tensor({1, rows, 24}, rng), b = random_tensor({24, 40}, rng);
      Tensor bias = random_tensor({40}, rng), sum = random_tensor({1, rows, 40}, rng);
      const Tensor reference = run_path(node, {&a, &b, &bias, &sum}, true);
      Node plain = node;
      plain.inputs.pop_back();
      const Tensor without = run_path(plain, {&a, &b, &bias}, true);
      for (int64_t i = 0; i < reference.numel(); ++i) {
        ASSERT_EQ(reference.data<float>()[i], without.data<float>()[i] + sum.data<float>()[i]);
      }
      auto kernel = OpRegistry::instance().create(node, 1, KernelOptions{});
      for (int run = 0; run < 2; ++run) {  // the second run reuses the plan
        const Tensor fast = kernel->run({&a, &b, &bias, &sum}).at(0);
        EXPECT_LT(relative_error(fast, reference), 1e-4);
      }
      Tensor wrong = random_tensor({1, rows, 39}, rng);
      EXPECT_EQ(error_of(node, {&a, &b, &bias, &wrong}, "Sum"), ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace amphora
