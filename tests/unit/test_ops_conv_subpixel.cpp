// ConvTranspose through the sub-pixel (stacked phases) conv on oneDNN's direct kernel
// (ops/conv/deconv_subpixel.hpp) against the reference transposed conv, on the vocoder
// upsampler shapes and random ones, with every post-op combination.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "ops/amphora_domain.hpp"
#include "ops/conv/conv_onednn.hpp"
#include "ops/conv/conv_reference.hpp"
#include "ops/conv/deconv_subpixel.hpp"

namespace amphora {
namespace {

Tensor random_tensor(const Shape& shape, std::mt19937& rng) {
  Tensor t(DType::kFloat32, shape);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = normal(rng);
  return t;
}

struct Deconv {
  int64_t in_ch, out_ch, k, s, pad_l, pad_r, out_pad, frames;
};

Node deconv_node(const Deconv& d, const std::string& activation, bool bias, bool sum,
                 const std::string& input_activation) {
  Node node;
  node.name = "up";
  node.domain = kAmphoraDomain;
  node.op_type = "FusedConvTranspose";
  node.inputs = {"x", "w", bias ? "b" : ""};
  if (sum) node.inputs.push_back("r");
  node.outputs = {"y"};
  node.attributes["kernel_shape"] = std::vector<int64_t>{d.k};
  node.attributes["strides"] = std::vector<int64_t>{d.s};
  node.attributes["pads"] = std::vector<int64_t>{d.pad_l, d.pad_r};
  if (d.out_pad) node.attributes["output_padding"] = std::vector<int64_t>{d.out_pad};
  if (!activation.empty()) node.attributes["activation"] = activation;
  if (activation == "LeakyRelu") node.attributes["alpha"] = 0.1f;
  if (!input_activation.empty()) node.attributes["input_activation"] = input_activation;
  if (input_activation == "LeakyRelu") node.attributes["input_alpha"] = 0.2f;
  return node;
}

std::unique_ptr<Kernel> make_kernel(const Node& node, bool reference) {
  register_amphora_domain_ops_once();
  KernelOptions options;
  options.reference = reference;
  return OpRegistry::instance().create(node, 1, options);
}

int64_t out_frames(const Deconv& d) {
  return (d.frames - 1) * d.s + d.k - d.pad_l - d.pad_r + d.out_pad;
}

// Runs the fused deconv both ways and compares them elementwise, relative to the output's
// scale (the same products summed in a different order), then checks a second run (cached plan
// and stacked weights) and a run with new weight values in a new buffer (re-stacking).
void expect_matches_reference(const Deconv& d, const std::string& activation, bool bias, bool sum,
                              const std::string& input_activation, std::mt19937& rng) {
  SCOPED_TRACE(testing::Message() << d.in_ch << "->" << d.out_ch << " k" << d.k << " s" << d.s
                                  << " pads " << d.pad_l << "," << d.pad_r << " out_pad "
                                  << d.out_pad << " T" << d.frames << " act '" << activation
                                  << "' bias " << bias << " sum " << sum << " input act '"
                                  << input_activation << "'");
  const Node node = deconv_node(d, activation, bias, sum, input_activation);
  Tensor x = random_tensor({1, d.in_ch, d.frames}, rng);
  Tensor w = random_tensor({d.in_ch, d.out_ch, d.k}, rng);
  Tensor b = random_tensor({d.out_ch}, rng);
  Tensor r = random_tensor({1, d.out_ch, out_frames(d)}, rng);
  std::vector<const Tensor*> inputs = {&x, &w, bias ? &b : nullptr};
  if (sum) inputs.push_back(&r);
  auto reference = make_kernel(node, true);
  auto fast = make_kernel(node, false);
  const float scale = std::sqrt(static_cast<float>(d.in_ch * ((d.k + d.s - 1) / d.s))) + 1.0f;
  const auto compare = [&](const Tensor& got, const Tensor& want) {
    ASSERT_EQ(got.shape(), want.shape());
    int64_t bad = 0;
    for (int64_t i = 0; i < want.numel() && bad < 5; ++i) {
      const float g = got.data<float>()[i], e = want.data<float>()[i];
      if (!(std::fabs(g - e) <= 1e-5f * (std::fabs(e) + scale))) {
        ADD_FAILURE() << "element " << i << ": got " << g << ", want " << e;
        ++bad;
      }
    }
  };
  const Tensor want = reference->run(inputs)[0];
  const Tensor got = fast->run(inputs)[0];
  compare(got, want);
  const Tensor again = fast->run(inputs)[0];
  EXPECT_EQ(std::memcmp(again.raw(), got.raw(), got.nbytes()), 0);
  Tensor w2 = random_tensor(w.shape(), rng);
  inputs[1] = &w2;
  compare(fast->run(inputs)[0], reference->run(inputs)[0]);
}

ConvGeometry deconv_geometry(const Deconv& d) {
  ConvGeometry g;
  g.transpose = true;
  g.batch = 1;
  g.in_channels = d.in_ch;
  g.out_channels = d.out_ch;
  g.spatial_rank = 1;
  g.in = {d.frames};
  g.kernel = {d.k};
  g.out = {out_frames(d)};
  g.strides = {d.s};
  g.dilations = {1};
  g.pad_begin = {d.pad_l};
  g.pad_end = {d.pad_r};
  return g;
}

TEST(SubpixelSplit, StacksPhasesAsOutputChannelsOfAnUndilatedConv) {
  // HiFi-GAN V1's first upsampler: 512 -> 256, k16, s8, pad 4.
  const SubpixelSplit split = split_subpixel(deconv_geometry({512, 256, 16, 8, 4, 4, 0, 100}));
  ASSERT_TRUE(split.valid);
  EXPECT_EQ(split.taps, 2);
  EXPECT_EQ(split.first_step, 0);
  EXPECT_EQ(split.steps, 101);  // 800 outputs = steps 0..99 plus phase 0..3 of step 100
  EXPECT_EQ(split.stacked.out_channels, 256 * 8);
  EXPECT_EQ(split.stacked.in_channels, 512);
  EXPECT_EQ(split.stacked.kernel[0], 2);
  EXPECT_EQ(split.stacked.strides[0], 1);
  EXPECT_EQ(split.stacked.pad_begin[0], 1);
  EXPECT_EQ(split.stacked.pad_end[0], 1);
  EXPECT_EQ(split.stacked.output_shape(), (Shape{1, 256 * 8, 101}));

  ConvGeometry dilated = deconv_geometry({8, 8, 4, 2, 1, 1, 0, 10});
  dilated.dilations = {2};
  EXPECT_FALSE(split_subpixel(dilated).valid);
  ConvGeometry grouped = deconv_geometry({8, 8, 4, 2, 1, 1, 0, 10});
  grouped.group = 2;
  EXPECT_FALSE(split_subpixel(grouped).valid);
  EXPECT_FALSE(split_subpixel(deconv_geometry({8, 8, 3, 1, 1, 1, 0, 10})).valid);  // stride 1
  // A left padding past the first taps would need a negative stacked-conv padding.
  EXPECT_FALSE(split_subpixel(deconv_geometry({8, 8, 4, 2, 5, 0, 0, 10})).valid);
}

TEST(SubpixelSplit, StackedWeightsReverseEachPhasesTapsAndZeroFillPastTheKernel) {
  const Deconv d{1, 2, 5, 2, 0, 0, 0, 4};  // M = 3: phase 0 taps 0,2,4; phase 1 taps 1,3,(5)
  const ConvGeometry g = deconv_geometry(d);
  const SubpixelSplit split = split_subpixel(g);
  ASSERT_TRUE(split.valid);
  std::vector<float> w(2 * 5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i + 1);  // w[0, o, j]
  std::vector<float> stacked(4 * 3, -1.0f);
  stack_subpixel_weights(g, split, w.data(), stacked.data());
  // Rows o*s + p; tap q holds w[0, o, p + (2 - q)*2].
  EXPECT_EQ(stacked, (std::vector<float>{5, 3, 1, 0, 4, 2, 10, 8, 6, 0, 9, 7}));
}

TEST(FusedConvTranspose, SubpixelMatchesReferenceOnVocoderShapes) {
  std::mt19937 rng(21);
  const std::vector<Deconv> shapes = {
      {64, 32, 8, 4, 2, 2, 0, 300},   // HiFi-GAN V3 (k = 2s, pad s/2)
      {128, 64, 16, 8, 4, 4, 0, 97},  // V3 / V1 first upsampler
      {32, 16, 4, 2, 1, 1, 0, 211},   // k4 s2 pad 1
      {16, 8, 8, 4, 2, 2, 0, 1},      // a single frame
      {24, 12, 6, 3, 2, 1, 1, 50},    // odd stride, output_padding 1
      {9, 5, 7, 3, 1, 2, 0, 33},      // odd k, odd channels
      {8, 130, 3, 4, 0, 0, 0, 40},    // k < s (M = 1), 130 outputs
      {130, 3, 11, 4, 3, 2, 1, 77},   // k not a multiple of s, 130 inputs
      {1, 1, 5, 2, 2, 2, 1, 9},       // one channel
      {16, 8, 8, 4, 2, 3, 1, 2500},   // several interleave tiles
  };
  for (const Deconv& d : shapes) {
    expect_matches_reference(d, "LeakyRelu", true, false, "LeakyRelu", rng);
    expect_matches_reference(d, "", false, true, "", rng);
  }
}

TEST(FusedConvTranspose, SubpixelMatchesReferenceOnRandomShapesAndPostOps) {
  std::mt19937 rng(22);
  const std::vector<std::string> activations = {"", "Relu", "LeakyRelu", "Tanh"};
  const std::vector<std::string> input_activations = {"", "Relu", "LeakyRelu"};
  for (int trial = 0; trial < 80; ++trial) {
    Deconv d;
    d.in_ch = 1 + static_cast<int64_t>(rng() % 130);
    d.out_ch = 1 + static_cast<int64_t>(rng() % 130);
    d.s = 2 + static_cast<int64_t>(rng() % 7);
    d.k = 1 + static_cast<int64_t>(rng() % (3 * d.s));
    d.frames = 1 + static_cast<int64_t>(rng() % 300);
    d.pad_l = static_cast<int64_t>(rng() % (d.k / 2 + 1));
    d.pad_r = static_cast<int64_t>(rng() % (d.k / 2 + 1));
    d.out_pad = rng() % 3 == 0 ? static_cast<int64_t>(rng() % d.s) : 0;
    if (out_frames(d) < 1) continue;
    expect_matches_reference(d, activations[rng() % 4], rng() % 2 == 0, rng() % 2 == 0,
                             input_activations[rng() % 3], rng);
  }
}

}  // namespace
}  // namespace amphora
