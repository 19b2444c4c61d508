// The tiled AVX-512 VNNI int8 conv (src/ops/int8/int8_conv_tiled.hpp) against its references:
// the packing of X byte for byte against the scalar packing, and the whole conv against the int8
// FusedConv's reference path (X fake-quantized, W dequantized, the float reference conv). Only
// where the CPU has AVX-512 VNNI (and oneDNN may use it); elsewhere the tests are skipped and the
// kernel is never chosen (ops_int8_on_avx2 runs test_ops_int8 on the float fallback).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "int8_test_util.hpp"
#include "op_test_util.hpp"
#include "ops/amphora_domain.hpp"
#include "ops/conv/conv_fused.hpp"
#include "ops/int8/int8_conv_tiled.hpp"

namespace amphora {
namespace {

TEST(Int8Tiled, PackedWindowsMatchTheScalarPackingByteForByte) {
  if (!int8_tiled_available()) GTEST_SKIP() << "no AVX-512 VNNI here";
  std::mt19937 rng(11);
  const Quantizer static_q = Quantizer::int8(0.1f, 0.02f);
  const Tensor some = testing::random_tensor({1000}, rng, 3.0f);
  const Quantizer dynamic_q = Quantizer::dynamic(some.data<float>(), some.numel(), 1.0f);
  for (int64_t channels : {3, 4, 8, 13, 32}) {
    for (int64_t length : {5, 40, 301}) {
      const Tensor x = testing::random_tensor({channels, length}, rng, 3.0f);
      // Windows inside, across either end and past the row.
      for (int64_t begin : {int64_t{-7}, int64_t{0}, int64_t{3}, length - 20}) {
        for (Int8Padding padding : {Int8Padding::kZeros, Int8Padding::kReflect}) {
          for (const Quantizer* q : {&static_q, &dynamic_q}) {
            const int64_t width = 70, bytes = (channels + 3) / 4 * width * 4;
            std::vector<uint8_t> got(bytes, 1), want(bytes, 2);
            pack_quantized_window(x.data<float>(), channels, length, begin, width, padding, *q,
                                  got.data());
            pack_quantized_window_reference(x.data<float>(), channels, length, begin, width,
                                            padding, *q, want.data());
            EXPECT_EQ(got, want) << channels << " channels, length " << length << ", begin "
                                 << begin << (q->is_unsigned ? ", dynamic" : ", static");
          }
        }
      }
    }
  }
}

struct TiledCase {
  int64_t in, out, k, dilation, length, batch;
  bool input_leaky, bias, residual;
  std::string activation;  // "", "Relu" or "LeakyRelu"
  std::string pad_mode = "constant";
  bool dynamic = false;
  int64_t stride = 0;  // > 0: a ConvTranspose of this stride (its sub-pixel stack runs tiled)
};

// One case straight through Int8TiledConv::run (which must take it) against the int8 kernel's
// reference path on the same node.
void check_tiled(const TiledCase& c, uint32_t seed) {
  register_amphora_domain_ops_once();
  std::mt19937 rng(seed);
  const bool transpose = c.stride > 0;
  Node node = testing::int8_fused_conv_node(transpose, c.k, c.stride, c.dilation, c.pad_mode,
                                            c.input_leaky, c.bias, c.residual);
  if (!c.activation.empty()) {
    node.attributes["activation"] = c.activation;
    node.attributes["alpha"] = 0.2f;
  }
  std::vector<float> w_scale(c.out);
  std::uniform_real_distribution<float> scale(0.5e-3f, 4e-3f);
  for (float& s : w_scale) s = scale(rng);
  node.attributes["w_scale"] = w_scale;
  if (c.dynamic) {
    node.attributes["x_dynamic"] = int64_t{1};
  } else {
    node.attributes["x_scale"] = 0.02f;
  }
  const Tensor x = testing::random_tensor({c.batch, c.in, c.length}, rng, 3.0f);
  const Tensor w =
      testing::random_int8(transpose ? Shape{c.in, c.out, c.k} : Shape{c.out, c.in, c.k}, rng);
  const Tensor b = testing::random_tensor({c.out}, rng, 0.5f);
  const int64_t out_len = transpose ? c.length * c.stride : c.length;
  const Tensor residual = testing::random_tensor({c.batch, c.out, out_len}, rng, 1.0f);
  std::vector<const Tensor*> inputs = {&x, &w, c.bias ? &b : nullptr};
  if (c.residual) inputs.push_back(&residual);
  const std::string what =
      std::string(transpose ? "ConvTranspose s" + std::to_string(c.stride) + " " : "") +
      std::to_string(c.in) + "->" + std::to_string(c.out) + " k" + std::to_string(c.k) + " d" +
      std::to_string(c.dilation) + " T" + std::to_string(c.length) + " batch " +
      std::to_string(c.batch) + " " + c.activation + " " + c.pad_mode +
      (c.dynamic ? " dynamic" : "");

  const ConvAttrs attrs = ConvAttrs::parse(node, transpose);
  const Shape b_shape = b.shape();
  const ConvGeometry g =
      resolve_conv_geometry(node, attrs, x.shape(), w.shape(), c.bias ? &b_shape : nullptr);
  ConvPostOps post = parse_conv_post_ops(node);
  post.sum = c.residual;
  const Int8Scales scales = parse_int8_scales(node);
  const float slope = post.input_activation ? post.input_slope : 1.0f;
  const Quantizer quant = c.dynamic ? Quantizer::dynamic(x.data<float>(), x.numel(), slope)
                                    : Quantizer::int8(slope, scales.x_scale);
  ASSERT_TRUE(int8_tiled_applies(g, post)) << what;
  Tensor got = Tensor::uninitialized(DType::kFloat32, g.output_shape());
  Int8TiledConv tiled;
  ASSERT_TRUE(tiled.run(g, x, w, scales, quant, c.bias ? &b : nullptr, post,
                        c.residual ? &residual : nullptr, got))
      << what;
  const Tensor want = testing::run_path(node, inputs, true);
  ASSERT_EQ(got.shape(), want.shape()) << what;  // the loop below indexes both
  testing::expect_int8_close(got, want, what);
  // The node's own fast path takes this kernel and gives the same values.
  const Tensor node_fast = testing::run_path(node, inputs, false);
  for (int64_t i = 0; i < want.numel(); ++i) {
    ASSERT_EQ(node_fast.data<float>()[i], got.data<float>()[i]) << what << " at " << i;
  }
}

TEST(Int8Tiled, MatchesTheInt8ReferenceOnNarrowConvs) {
  if (!int8_tiled_available()) GTEST_SKIP() << "no AVX-512 VNNI here";
  const std::vector<TiledCase> cases = {
      // HiFi-GAN V3's resblocks and conv_pre, one tile and several.
      {32, 32, 3, 1, 1000, 1, true, true, true, ""},
      {64, 64, 5, 6, 3000, 1, true, true, true, ""},
      {128, 128, 7, 12, 777, 1, true, true, false, "LeakyRelu"},
      {80, 256, 7, 1, 100, 1, false, true, false, ""},
      {256, 256, 3, 1, 2000, 1, true, false, true, "Relu"},
      // Ragged channel counts (partial groups of 4, partial blocks of 8), short rows.
      {3, 5, 3, 1, 17, 1, false, true, false, ""},
      {13, 9, 7, 2, 61, 2, true, false, true, "LeakyRelu"},
      {7, 17, 1, 1, 49, 1, false, true, true, ""},
      // Reflect padding, batch 2, dynamic quantization.
      {16, 24, 7, 1, 64, 1, true, true, false, "", "reflect"},
      {32, 48, 5, 3, 500, 2, true, true, true, "", "reflect"},
      {64, 48, 3, 1, 200, 2, false, true, false, "", "constant", true},
      {32, 32, 7, 3, 1280, 1, true, true, true, "LeakyRelu", "constant", true},
  };
  uint32_t seed = 40;
  for (const TiledCase& c : cases) check_tiled(c, seed++);
}

// ConvTransposes as their sub-pixel stacks, the phases scattered into y (cropped at both ends).
TEST(Int8Tiled, MatchesTheInt8ReferenceOnSubpixelConvTransposes) {
  if (!int8_tiled_available()) GTEST_SKIP() << "no AVX-512 VNNI here";
  const std::vector<TiledCase> cases = {
      // HiFi-GAN V3's upsamplers (256 -> 128 k16 s8, 128 -> 64 k16 s8, 64 -> 32 k8 s4), shorter.
      {256, 128, 16, 1, 40, 1, true, true, false, "", "constant", false, 8},
      {128, 64, 16, 1, 300, 1, true, true, false, "", "constant", false, 8},
      {64, 32, 8, 1, 1000, 1, true, true, true, "LeakyRelu", "constant", false, 4},
      // V1's stride 2, a kernel that is no multiple of the stride, ragged channels, dynamic X.
      {64, 32, 4, 1, 513, 1, false, false, true, "", "constant", false, 2},
      {24, 16, 11, 1, 31, 1, true, true, true, "Relu", "constant", false, 5},
      {13, 5, 6, 1, 77, 1, true, true, false, "", "constant", true, 3},
  };
  uint32_t seed = 80;
  for (const TiledCase& c : cases) check_tiled(c, seed++);
}

// The streamer's entry point: X and the residual as pieces give what run() gives on their join,
// bit for bit (the same bytes packed, the same int32 sums).
TEST(Int8Tiled, ReadsAStreamsPiecesExactlyAsTheirJoin) {
  if (!int8_tiled_available()) GTEST_SKIP() << "no AVX-512 VNNI here";
  register_amphora_domain_ops_once();
  std::mt19937 rng(5);
  struct Case {
    int64_t in, out, k, dilation, length;
    bool residual;
  };
  for (const Case& c : {Case{32, 32, 3, 1, 300, true}, Case{13, 9, 7, 5, 97, true},
                        Case{64, 48, 5, 2, 1200, false}, Case{8, 8, 1, 1, 20, true}}) {
    const std::string what = std::to_string(c.in) + "->" + std::to_string(c.out) + " k" +
                             std::to_string(c.k) + " d" + std::to_string(c.dilation) + " T" +
                             std::to_string(c.length);
    Node node = testing::int8_fused_conv_node(false, c.k, 0, c.dilation, "constant", true, true,
                                              c.residual);
    node.attributes["w_scale"] = std::vector<float>(c.out, 2e-3f);
    node.attributes["x_scale"] = 0.02f;
    const int64_t pad = (c.k - 1) * c.dilation / 2;
    const ConvGeometry g = testing::conv1d_geometry(c.in, c.out, c.length, c.k, c.dilation, pad,
                                                    (c.k - 1) * c.dilation - pad);
    ConvPostOps post = parse_conv_post_ops(node);
    post.sum = c.residual;
    const Int8Scales scales = parse_int8_scales(node);
    const Quantizer quant = Quantizer::int8(post.input_slope, scales.x_scale);
    const Tensor w = testing::random_int8({c.out, c.in, c.k}, rng);
    const Tensor b = testing::random_tensor({c.out}, rng, 0.5f);
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<std::vector<float>> buffers;
      Tensor x = testing::random_tensor({c.in, c.length}, rng, 3.0f);
      Tensor residual = testing::random_tensor({c.out, c.length}, rng, 1.0f);
      const std::vector<TimePiece> x_pieces =
          testing::cut_into_pieces(x.data<float>(), c.in, c.length, 40, true, rng, buffers);
      const std::vector<TimePiece> residual_pieces =
          testing::cut_into_pieces(residual.data<float>(), c.out, c.length, 40, true, rng, buffers);
      x = x.reshaped({1, c.in, c.length});
      residual = residual.reshaped({1, c.out, c.length});
      Tensor want = Tensor::uninitialized(DType::kFloat32, g.output_shape());
      Tensor got = Tensor::uninitialized(DType::kFloat32, g.output_shape());
      Int8TiledConv tiled;
      ASSERT_TRUE(
          tiled.run(g, x, w, scales, quant, &b, post, c.residual ? &residual : nullptr, want))
          << what;
      ASSERT_TRUE(tiled.run_pieces(g, x_pieces, w, scales, quant, &b, post,
                                   c.residual ? &residual_pieces : nullptr, got))
          << what;
      for (int64_t i = 0; i < want.numel(); ++i) {
        ASSERT_EQ(got.data<float>()[i], want.data<float>()[i]) << what << " at " << i;
      }
    }
  }
}

TEST(Int8Tiled, TakesOnlyNarrowStrideOneConvs) {
  ConvGeometry g = testing::conv1d_geometry(64, 64, 100, 3, 1, 1, 1);
  ConvPostOps post;
  EXPECT_TRUE(int8_tiled_applies(g, post));
  post.activation = ConvPostOps::Activation::kTanh;
  EXPECT_FALSE(int8_tiled_applies(g, post));
  post = {};
  for (auto change :
       {+[](ConvGeometry& c) { c.in_channels = 512; },
        +[](ConvGeometry& c) { c.out_channels = 2; },  // conv_post: narrow_conv
        +[](ConvGeometry& c) { c.strides = {2}; }, +[](ConvGeometry& c) { c.group = 2; },
        +[](ConvGeometry& c) { c.batch = 2, c.transpose = true; }}) {
    ConvGeometry other = g;
    change(other);
    EXPECT_FALSE(int8_tiled_applies(other, post));
  }
}

}  // namespace
}  // namespace amphora
