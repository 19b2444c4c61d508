// What the int8 kernel tests (test_ops_int8.cpp, test_ops_int8_tiled.cpp) share: random int8
// weights, the com.amphora FusedConv / FusedConvTranspose node of a 1-D case, and the comparison
// their int8 results pass.
// Not named test_*.cpp, so CMake does not build it as a test of its own.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "op_test_util.hpp"
#include "ops/amphora_domain.hpp"

namespace amphora::testing {

// An int8 tensor of `shape` filled uniformly from [-127, 127] by `rng` (symmetric weights).
inline Tensor random_int8(const Shape& shape, std::mt19937& rng) {
  Tensor t(DType::kInt8, shape);
  std::uniform_int_distribution<int> dist(-127, 127);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int8_t>()[i] = static_cast<int8_t>(dist(rng));
  return t;
}

// The fused conv reading "x", "w", "b" (or none) and "sum" (when `residual`): a ConvTranspose of
// `stride` with the pads that keep length * stride, or a Conv with `dilation` and pads keeping the
// length (`pad_mode` as given); X through LeakyRelu(0.1) first when `input_leaky`. The int8
// attributes (scales) and any output activation are the caller's.
inline Node int8_fused_conv_node(bool transpose, int64_t k, int64_t stride, int64_t dilation,
                                 const std::string& pad_mode, bool input_leaky, bool bias,
                                 bool residual) {
  Node node =
      make_node(transpose ? "FusedConvTranspose" : "FusedConv", {"x", "w", bias ? "b" : "", "sum"});
  if (!residual) node.inputs.pop_back();
  node.domain = kAmphoraDomain;
  if (transpose) {
    node.attributes["strides"] = std::vector<int64_t>{stride};
    const int64_t pad = (k - stride) / 2;
    node.attributes["pads"] = std::vector<int64_t>{pad, k - stride - pad};
  } else {
    node.attributes["dilations"] = std::vector<int64_t>{dilation};
    const int64_t pad = (k - 1) * dilation / 2;
    node.attributes["pads"] = std::vector<int64_t>{pad, pad};
    node.attributes["pad_mode"] = pad_mode;
  }
  if (input_leaky) {
    node.attributes["input_activation"] = std::string("LeakyRelu");
    node.attributes["input_alpha"] = 0.1f;
  }
  return node;
}

// An int8 result against its float reference: exact int32 sums against float sums of the same
// products in another order, then one scaling, differ by ~1e-6 of the output's size; 2e-5 leaves
// room and is still ~100x below a wrong scale's error.
inline void expect_int8_close(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  float peak = 0, worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    peak = std::max(peak, std::fabs(want.data<float>()[i]));
    worst = std::max(worst, std::fabs(got.data<float>()[i] - want.data<float>()[i]));
  }
  EXPECT_LE(worst, 2e-5f * std::max(peak, 1.0f)) << what << " (peak " << peak << ")";
}

}  // namespace amphora::testing
