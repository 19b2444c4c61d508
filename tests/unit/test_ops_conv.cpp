// Conv / ConvTranspose: the reference kernel against hand-computed cases, the oneDNN path
// against the reference on many seeded random problems, and the errors bad models/inputs get.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "op_test_util.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_onednn.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

using namespace testing;

// Conv / ConvTranspose nodes read x, w and (optionally) b.
Node conv_node(const std::string& op, std::map<std::string, Attribute> attrs = {}) {
  return make_node(op, {"x", "w", "b"}, std::move(attrs));
}

using Ints = std::vector<int64_t>;

TEST(Conv, Conv1dWithPadsAndBias) {
  Tensor x = Tensor::from_vector<float>({1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor w = Tensor::from_vector<float>({1, 1, 3}, {1, 0, -1});
  Tensor b = Tensor::from_vector<float>({1}, {0.5f});
  Node node = conv_node("Conv", {{"pads", Ints{1, 1}}});
  expect_both_paths(node, {&x, &w, &b}, {1, 1, 5}, {-1.5f, -1.5f, -1.5f, -1.5f, 4.5f});
  expect_both_paths(node, {&x, &w}, {1, 1, 5}, {-2, -2, -2, -2, 4});
}

TEST(Conv, StrideAndDilation) {
  Tensor x = Tensor::from_vector<float>({1, 1, 7}, {1, 2, 3, 4, 5, 6, 7});
  Tensor w = Tensor::from_vector<float>({1, 1, 2}, {1, 1});
  Node node = conv_node("Conv", {{"strides", Ints{2}}, {"dilations", Ints{2}}});
  expect_both_paths(node, {&x, &w}, {1, 1, 3}, {4, 8, 12});
}

TEST(Conv, DepthwiseGroups) {
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor w = Tensor::from_vector<float>({2, 1, 1}, {2, -1});
  Node node = conv_node("Conv", {{"group", int64_t{2}}});
  expect_both_paths(node, {&x, &w}, {1, 2, 3}, {2, 4, 6, -4, -5, -6});
}

TEST(Conv, TwoDimensional) {
  Tensor x = Tensor::from_vector<float>({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor w = Tensor::from_vector<float>({1, 1, 2, 2}, {1, 1, 1, 1});
  expect_both_paths(conv_node("Conv"), {&x, &w}, {1, 1, 2, 2}, {12, 16, 24, 28});
}

TEST(Conv, AutoPadSameUpperAndLowerWithEvenKernel) {
  Tensor x = Tensor::from_vector<float>({1, 1, 4}, {1, 2, 3, 4});
  Tensor w = Tensor::from_vector<float>({1, 1, 2}, {1, 1});
  expect_both_paths(conv_node("Conv", {{"auto_pad", std::string("SAME_UPPER")}}), {&x, &w},
                    {1, 1, 4}, {3, 5, 7, 4});
  expect_both_paths(conv_node("Conv", {{"auto_pad", std::string("SAME_LOWER")}}), {&x, &w},
                    {1, 1, 4}, {1, 3, 5, 7});
  expect_both_paths(conv_node("Conv", {{"auto_pad", std::string("VALID")}, {"pads", Ints{3, 3}}}),
                    {&x, &w}, {1, 1, 3}, {3, 5, 7});
}

TEST(ConvTranspose, StrideTwoOverlapAdd) {
  Tensor x = Tensor::from_vector<float>({1, 1, 3}, {1, 2, 3});
  Tensor w = Tensor::from_vector<float>({1, 1, 3}, {1, 1, 1});
  expect_both_paths(conv_node("ConvTranspose", {{"strides", Ints{2}}}), {&x, &w}, {1, 1, 7},
                    {1, 1, 3, 2, 5, 3, 3});
  expect_both_paths(conv_node("ConvTranspose", {{"strides", Ints{2}}, {"pads", Ints{1, 1}}}),
                    {&x, &w}, {1, 1, 5}, {1, 3, 2, 5, 3});
  expect_both_paths(
      conv_node("ConvTranspose",
                {{"strides", Ints{2}}, {"pads", Ints{1, 1}}, {"output_padding", Ints{1}}}),
      {&x, &w}, {1, 1, 6}, {1, 3, 2, 5, 3, 3});
}

TEST(ConvTranspose, OutputShapeAndAutoPad) {
  Tensor x = Tensor::from_vector<float>({1, 1, 3}, {1, 2, 3});
  Tensor w = Tensor::from_vector<float>({1, 1, 3}, {1, 1, 1});
  Tensor b = Tensor::from_vector<float>({1}, {1});
  // output_shape one longer than natural: the extra sample only receives the bias.
  expect_both_paths(conv_node("ConvTranspose", {{"strides", Ints{2}}, {"output_shape", Ints{8}}}),
                    {&x, &w, &b}, {1, 1, 8}, {2, 2, 4, 3, 6, 4, 4, 1});
  expect_both_paths(
      conv_node("ConvTranspose", {{"strides", Ints{2}}, {"auto_pad", std::string("SAME_UPPER")}}),
      {&x, &w}, {1, 1, 6}, {1, 1, 3, 2, 5, 3});
  expect_both_paths(
      conv_node("ConvTranspose", {{"strides", Ints{2}}, {"auto_pad", std::string("SAME_LOWER")}}),
      {&x, &w}, {1, 1, 6}, {1, 3, 2, 5, 3, 3});
}

TEST(ConvTranspose, OutputShapeSplitsOddPaddingLikeOnnxRuntime) {
  // Natural output [1, 10, 102, 1020, 203, 2030, 300, 3000]; 3 samples of padding to remove.
  Tensor x = Tensor::from_vector<float>({1, 1, 3}, {1, 2, 3});
  Tensor w = Tensor::from_vector<float>({1, 1, 4}, {1, 10, 100, 1000});
  expect_both_paths(conv_node("ConvTranspose", {{"strides", Ints{2}}, {"output_shape", Ints{5}}}),
                    {&x, &w}, {1, 1, 5}, {102, 1020, 203, 2030, 300});
  expect_both_paths(conv_node("ConvTranspose", {{"strides", Ints{2}},
                                                {"output_shape", Ints{1, 1, 5}},
                                                {"auto_pad", std::string("SAME_UPPER")}}),
                    {&x, &w}, {1, 1, 5}, {10, 102, 1020, 203, 2030});
}

TEST(ConvTranspose, Groups) {
  Tensor x = Tensor::from_vector<float>({1, 2, 1}, {1, 2});
  Tensor w = Tensor::from_vector<float>({2, 1, 2}, {1, 2, 3, 4});
  expect_both_paths(conv_node("ConvTranspose", {{"group", int64_t{2}}}), {&x, &w}, {1, 2, 2},
                    {1, 2, 6, 8});
}

struct RandomConv {
  Node node;
  Tensor x, w, b;
  bool has_bias = false;
};

RandomConv random_conv(bool transpose, std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const size_t rank = pick(0, 9) < 7 ? 1 : (pick(0, 4) < 4 ? 2 : 3);
  const int64_t group = pick(0, 2) == 0 ? 1 : pick(1, 4);
  const bool depthwise = pick(0, 3) == 0;
  const int64_t cin_g = depthwise ? 1 : pick(1, 9), cout_g = depthwise ? 1 : pick(1, 9);
  const int64_t batch = pick(1, 2);
  std::map<std::string, Attribute> attrs{{"group", group}};
  Ints kernel, strides, dilations, pads(2 * rank), output_padding;
  Shape x_shape{batch, cin_g * group}, w_shape;
  for (size_t i = 0; i < rank; ++i) {
    kernel.push_back(pick(1, rank == 1 ? 8 : 3));
    strides.push_back(pick(1, transpose ? 4 : 3));
    dilations.push_back(pick(1, 3));
    pads[i] = pick(0, 3);
    pads[i + rank] = pick(0, 3);
    output_padding.push_back(pick(0, std::max(strides[i], dilations[i]) - 1));
    x_shape.push_back(pick(rank == 1 ? 5 : 3, rank == 1 ? 40 : 9));
  }
  if (transpose) {
    w_shape = {cin_g * group, cout_g};
  } else {
    w_shape = {cout_g * group, cin_g};
  }
  w_shape.insert(w_shape.end(), kernel.begin(), kernel.end());
  attrs["kernel_shape"] = kernel;
  attrs["strides"] = strides;
  attrs["dilations"] = dilations;
  const int64_t pad_mode = pick(0, 5);
  const char* modes[] = {"NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
  attrs["auto_pad"] = std::string(modes[pad_mode]);
  if (pad_mode < 3) attrs["pads"] = pads;
  if (transpose && pick(0, 1)) attrs["output_padding"] = output_padding;
  if (transpose && pick(0, 5) == 0) {
    Ints output_shape;
    for (size_t i = 0; i < rank; ++i) {
      output_shape.push_back(strides[i] * (x_shape[2 + i] - 1) + 1 + pick(-1, 3));
    }
    attrs["output_shape"] = output_shape;
  }
  RandomConv c{conv_node(transpose ? "ConvTranspose" : "Conv", attrs), random_tensor(x_shape, rng),
               random_tensor(w_shape, rng), random_tensor({cout_g * group}, rng)};
  c.has_bias = pick(0, 1) == 1;
  return c;
}

void random_conv_sweep(bool transpose, uint32_t seed) {
  std::mt19937 rng(seed);
  int compared = 0;
  for (int trial = 0; trial < 250; ++trial) {
    RandomConv c = random_conv(transpose, rng);
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " x " << shape_str(c.x.shape())
                                      << " w " << shape_str(c.w.shape()));
    std::vector<const Tensor*> inputs{&c.x, &c.w};
    if (c.has_bias) inputs.push_back(&c.b);
    try {
      expect_paths_agree(c.node, inputs);
      ++compared;
    } catch (const Error& e) {
      // Random attributes can make an input too short; anything else is a bug.
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  }
  EXPECT_GT(compared, 200);
}

TEST(Conv, OnednnMatchesReferenceOnRandomProblems) { random_conv_sweep(false, 1234); }
TEST(ConvTranspose, OnednnMatchesReferenceOnRandomProblems) { random_conv_sweep(true, 4321); }

TEST(Conv, VocoderShapesAgreeAcrossLengthsAndWeights) {
  std::mt19937 rng(7);
  // A dilated resblock conv and a stride-8 upsampler, as in HiFi-GAN.
  Node conv = conv_node("Conv", {{"dilations", Ints{5}}, {"pads", Ints{15, 15}}});
  Node up = conv_node("ConvTranspose", {{"strides", Ints{8}}, {"pads", Ints{4, 4}}});
  Tensor w_conv = random_tensor({32, 32, 7}, rng), b_conv = random_tensor({32}, rng);
  Tensor w_up = random_tensor({64, 32, 16}, rng), b_up = random_tensor({32}, rng);
  KernelOptions fast_options;
  auto fast_conv = OpRegistry::instance().create(conv, 17, fast_options);
  auto fast_up = OpRegistry::instance().create(up, 17, fast_options);
  for (int64_t length : {1000, 37, 1000}) {  // repeated length: cached primitive
    Tensor x = random_tensor({1, 32, length}, rng);
    Tensor y = fast_conv->run({&x, &w_conv, &b_conv}).at(0);
    EXPECT_LT(relative_error(y, run_path(conv, {&x, &w_conv, &b_conv}, true)), 1e-4);
    Tensor u = random_tensor({1, 64, length / 8 + 1}, rng);
    Tensor z = fast_up->run({&u, &w_up, &b_up}).at(0);
    EXPECT_EQ(z.dim(2), 8 * (length / 8 + 1));
    EXPECT_LT(relative_error(z, run_path(up, {&u, &w_up, &b_up}, true)), 1e-4);
  }
  // New weight buffers must not be confused with the packed copies of the old ones.
  Tensor x = random_tensor({1, 32, 1000}, rng);
  Tensor other_weights = random_tensor({32, 32, 7}, rng);
  Tensor y = fast_conv->run({&x, &other_weights, &b_conv}).at(0);
  EXPECT_LT(relative_error(y, run_path(conv, {&x, &other_weights, &b_conv}, true)), 1e-4);
}

// A silent fallback to the reference loops would be correct but hundreds of times slower, so the
// layer shapes vocoders use must be accepted by oneDNN itself.
TEST(Conv, OnednnAcceptsVocoderLayers) {
  std::mt19937 rng(11);
  struct Layer {
    const char* op;
    std::map<std::string, Attribute> attrs;
    Shape x, w;
  };
  const std::vector<Layer> layers = {
      {"Conv", {{"pads", Ints{3, 3}}}, {1, 80, 64}, {128, 80, 7}},
      {"Conv", {{"dilations", Ints{5}}, {"pads", Ints{5, 5}}}, {1, 32, 3000}, {32, 32, 3}},
      {"Conv", {{"group", int64_t{64}}, {"pads", Ints{3, 3}}}, {1, 64, 100}, {64, 1, 7}},
      {"Conv", {{"pads", Ints{1, 1, 1, 1}}}, {1, 8, 16, 16}, {8, 8, 3, 3}},
      {"ConvTranspose", {{"strides", Ints{8}}, {"pads", Ints{4, 4}}}, {1, 64, 50}, {64, 32, 16}},
      {"ConvTranspose",
       {{"strides", Ints{5}}, {"pads", Ints{3, 3}}, {"output_padding", Ints{1}}},
       {1, 16, 50},
       {16, 8, 11}},
  };
  for (const Layer& layer : layers) {
    Node node = conv_node(layer.op, layer.attrs);
    const ConvAttrs attrs = ConvAttrs::parse(node, std::string(layer.op) == "ConvTranspose");
    Tensor x = random_tensor(layer.x, rng), w = random_tensor(layer.w, rng);
    const ConvGeometry g = resolve_conv_geometry(node, attrs, x.shape(), w.shape(), nullptr);
    Tensor y(DType::kFloat32, g.output_shape());
    OnednnConv fast;
    EXPECT_TRUE(fast.run(g, x, w, nullptr, y)) << layer.op << " x " << shape_str(layer.x);
    EXPECT_LT(relative_error(y, run_path(node, {&x, &w}, true)), 1e-4);
  }
  // Negative left padding (output_shape beyond the natural size at the start) is not something
  // oneDNN does: the fast path must decline rather than compute something else.
  Node oversized = conv_node("ConvTranspose",
                             {{"output_shape", Ints{6}}, {"auto_pad", std::string("SAME_UPPER")}});
  Tensor x = random_tensor({1, 2, 3}, rng), w = random_tensor({2, 2, 2}, rng);
  const ConvGeometry g = resolve_conv_geometry(oversized, ConvAttrs::parse(oversized, true),
                                               x.shape(), w.shape(), nullptr);
  ASSERT_LT(g.pad_begin[0], 0);
  Tensor y(DType::kFloat32, g.output_shape());
  OnednnConv fast;
  EXPECT_FALSE(fast.run(g, x, w, nullptr, y));
  Tensor reference = run_path(oversized, {&x, &w}, true);
  EXPECT_EQ(relative_error(run_path(oversized, {&x, &w}, false), reference), 0.0);
}

TEST(Conv, BadInputsAndModelsNameTheNode) {
  std::mt19937 rng(1);
  const Node conv = conv_node("Conv");
  Tensor x = random_tensor({1, 3, 10}, rng), w = random_tensor({4, 3, 3}, rng);
  Tensor w_mismatch = random_tensor({4, 2, 3}, rng);
  EXPECT_EQ(error_of(conv, {&x, &w_mismatch}, "test_Conv"), ErrorCode::kInvalidArgument);
  Tensor x6 = random_tensor({1, 6, 10}, rng), w_group = random_tensor({5, 3, 3}, rng);
  EXPECT_EQ(error_of(conv_node("Conv", {{"group", int64_t{2}}}), {&x6, &w_group}, "group 2"),
            ErrorCode::kInvalidModel);
  Tensor w_rank = random_tensor({4, 3}, rng);
  EXPECT_EQ(error_of(conv, {&x, &w_rank}, "test_Conv"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of(conv_node("Conv", {{"strides", 2.0f}}), {&x, &w}, "strides"),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of(conv_node("Conv", {{"auto_pad", std::string("SAME")}}), {&x, &w}, "auto_pad"),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of(conv_node("Conv", {{"pads", Ints{1, 1, 1, 1}}}), {&x, &w}, "pads"),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of(conv_node("Conv", {{"kernel_shape", Ints{5}}}), {&x, &w}, "kernel_shape"),
            ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of(conv_node("Conv", {{"output_padding", Ints{1}}}), {&x, &w}, "output_padding"),
            ErrorCode::kInvalidModel);
  Tensor x_short = random_tensor({1, 3, 2}, rng);
  EXPECT_EQ(error_of(conv, {&x_short, &w}, "too short"), ErrorCode::kInvalidArgument);
  Tensor bad_bias = random_tensor({3}, rng);
  EXPECT_EQ(error_of(conv, {&x, &w, &bad_bias}, "bias"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of(conv, {&x, nullptr}, "test_Conv"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of(conv, {&x}, "inputs"), ErrorCode::kInvalidModel);
  Tensor ints(DType::kInt64, {1, 3, 10});
  EXPECT_EQ(error_of(conv, {&ints, &w}, "int64"), ErrorCode::kUnsupported);
  // ConvTranspose weights are [C, M/group, k]: the input channel count is their first axis.
  Tensor w_transposed = random_tensor({4, 2, 3}, rng);
  EXPECT_EQ(error_of(conv_node("ConvTranspose"), {&x, &w_transposed}, "3 channels"),
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace amphora
