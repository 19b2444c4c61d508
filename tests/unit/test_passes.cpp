// Graph passes: every rewrite is checked against the unrewritten graph run with the reference
// kernels, on random shapes, plus the cases where a rewrite must not fire.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "op_test_util.hpp"
#include "ops/amphora_domain.hpp"
#include "passes/passes.hpp"
#include "runtime/session.hpp"
#include "stream/graph_streamer.hpp"
#include "stream/plan.hpp"
#include "stream/time_slices.hpp"

namespace amphora {
namespace {

Tensor random_tensor(const Shape& shape, std::mt19937& rng, float scale = 1.0f) {
  Tensor t(DType::kFloat32, shape);
  std::normal_distribution<float> normal(0.0f, scale);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = normal(rng);
  return t;
}

// A graph under construction: nodes are appended in order, so it stays topologically sorted.
struct GraphMaker {
  Graph graph;
  std::mt19937 rng{7};

  GraphMaker() { graph.opset_imports[""] = 17; }
  void input(const std::string& name) {
    graph.inputs.push_back({name, DType::kFloat32, {{1, ""}, {-1, "C"}, {-1, "T"}}});
  }
  void output(const std::string& name) { graph.outputs.push_back({name, DType::kFloat32, {}}); }
  Node& node(const std::string& op, std::vector<std::string> inputs, const std::string& out) {
    Node n;
    n.op_type = op;
    n.name = op + "_" + std::to_string(graph.nodes.size());
    n.inputs = std::move(inputs);
    n.outputs = {out};
    n.index = graph.nodes.size();
    graph.nodes.push_back(std::move(n));
    return graph.nodes.back();
  }
  // Conv (or ConvTranspose) with random weights; returns the node for more attributes.
  Node& conv(const std::string& x, const std::string& y, int64_t in_ch, int64_t out_ch, int64_t k,
             int64_t dilation, bool bias = true, bool transpose = false, int64_t stride = 1) {
    const std::string w = y + "_w", b = y + "_b";
    const float scale = 1.0f / std::sqrt(static_cast<float>(in_ch * k));
    graph.initializers[w] =
        random_tensor(transpose ? Shape{in_ch, out_ch, k} : Shape{out_ch, in_ch, k}, rng, scale);
    if (bias) graph.initializers[b] = random_tensor({out_ch}, rng, 0.1f);
    Node& n = node(transpose ? "ConvTranspose" : "Conv", {x, w, bias ? b : ""}, y);
    if (!bias) n.inputs.pop_back();
    n.attributes["kernel_shape"] = std::vector<int64_t>{k};
    n.attributes["dilations"] = std::vector<int64_t>{dilation};
    n.attributes["strides"] = std::vector<int64_t>{stride};
    const int64_t pad = transpose ? (k - stride) / 2 : (k - 1) * dilation / 2;
    n.attributes["pads"] = std::vector<int64_t>{pad, pad};
    return n;
  }
  void leaky(const std::string& x, const std::string& y, float alpha) {
    node("LeakyRelu", {x}, y).attributes["alpha"] = alpha;
  }
};

size_t count_ops(const Graph& graph, const std::string& op_type) {
  size_t n = 0;
  for (const Node& node : graph.nodes) n += node.op_type == op_type;
  return n;
}

// Runs `graph` optimized with the fast kernels, optimized with the reference kernels, and as
// built with the reference kernels; all three must agree. Returns the optimized graph.
Graph expect_same_results(const Graph& graph, const std::map<std::string, Tensor>& inputs,
                          float tolerance = 1e-4f) {
  Session reference(graph, SessionOptions{1, true, false, false});
  Session fused_reference(graph, SessionOptions{1, true, false, true});
  Session fused(graph, SessionOptions{2, false, false, true});
  auto expected = reference.run(inputs);
  for (Session* session : {&fused_reference, &fused}) {
    auto got = session->run(inputs);
    for (const auto& [name, want] : expected) {
      const Tensor& have = got.at(name);
      EXPECT_EQ(have.shape(), want.shape()) << name;
      if (have.shape() != want.shape()) continue;
      float worst = 0;
      const float* a = have.data<float>();
      const float* b = want.data<float>();
      for (int64_t i = 0; i < want.numel(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
      EXPECT_LE(worst, tolerance) << name << (session == &fused ? " (oneDNN)" : " (reference)");
    }
  }
  return fused.graph();
}

TEST(FuseConv, HifiganResblocksOnRandomShapesMatchTheUnfusedGraph) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t channels = std::vector<int64_t>{4, 8, 16, 32}[rng() % 4];
    const int64_t frames = 17 + static_cast<int64_t>(rng() % 300);
    const int64_t k = std::vector<int64_t>{3, 5, 7, 11}[rng() % 4];
    GraphMaker m;
    m.input("x");
    std::string x = "x";
    // Two resblock layers: x = x + c2(lrelu(c1(lrelu(x)))), HiFi-GAN's ResBlock1.
    for (int layer = 0; layer < 2; ++layer) {
      const std::string p =
          fmt::format("l{}_", layer);  // (not "l" + ...: GCC 12 -Wrestrict false positive)
      m.leaky(x, p + "a", 0.1f);
      m.conv(p + "a", p + "c1", channels, channels, k, layer == 0 ? 1 : 3);
      m.leaky(p + "c1", p + "b", 0.1f);
      m.conv(p + "b", p + "c2", channels, channels, k, 1, /*bias=*/layer == 0);
      m.node("Add", {p + "c2", x}, p + "sum");
      x = p + "sum";
    }
    m.leaky(x, "post_in", 0.01f);
    m.conv("post_in", "post", channels, 1, 7, 1);
    m.node("Tanh", {"post"}, "y");
    m.output("y");
    Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, channels, frames}, rng)}});
    SCOPED_TRACE(::testing::Message() << "C=" << channels << " T=" << frames << " k=" << k);
    EXPECT_EQ(count_ops(fused, "FusedConv"), 5u);
    EXPECT_EQ(count_ops(fused, "Conv"), 0u);
    EXPECT_EQ(count_ops(fused, "Add"), 0u);
    EXPECT_EQ(count_ops(fused, "Tanh"), 0u);
    // The pre-activations (whose inputs also feed the residual) go into the convs' input side.
    EXPECT_EQ(count_ops(fused, "LeakyRelu"), 0u);
    EXPECT_EQ(fused.nodes.size(), 5u);
  }
}

TEST(FuseConv, ConvTransposeWithLeakyReluAndReluConv) {
  std::mt19937 rng(2);
  GraphMaker m;
  m.input("x");
  m.leaky("x", "x_act", 0.1f);  // HiFi-GAN's activation before each upsampler
  m.conv("x_act", "up", 8, 4, 16, 1, true, /*transpose=*/true, /*stride=*/8);
  m.leaky("up", "a", 0.2f);
  m.conv("a", "c", 4, 6, 3, 2, /*bias=*/false);
  m.node("Relu", {"c"}, "y");
  m.output("y");
  Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 8, 33}, rng)}});
  EXPECT_EQ(count_ops(fused, "FusedConvTranspose"), 1u);
  EXPECT_EQ(count_ops(fused, "FusedConv"), 1u);
  EXPECT_EQ(fused.nodes.size(), 2u);
}

TEST(FuseConv, ResidualComputedAfterTheConvIsStillAvailable) {
  // MelGAN: shortcut(x) + block(x) with the shortcut conv first in graph order.
  std::mt19937 rng(3);
  GraphMaker m;
  m.input("x");
  m.conv("x", "shortcut", 6, 6, 1, 1);
  m.leaky("x", "a", 0.2f);
  m.conv("a", "block", 6, 6, 3, 3);
  m.node("Add", {"shortcut", "block"}, "y");
  m.output("y");
  Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 6, 50}, rng)}});
  // The shortcut absorbs the Add (its residual is the block's conv, computed later): the fused
  // node must sit where the Add was. The block's conv absorbs its input LeakyRelu.
  EXPECT_EQ(count_ops(fused, "FusedConv"), 2u);
  EXPECT_EQ(count_ops(fused, "Conv"), 0u);
  EXPECT_EQ(count_ops(fused, "Add"), 0u);
  EXPECT_EQ(count_ops(fused, "LeakyRelu"), 0u);
}

// HiFi-GAN's multi-receptive-field block as torch.onnx exports it: one LeakyRelu(x) read by the
// first conv of each of three resblocks. Long enough for the convs to run tile by tile.
TEST(FuseConv, AnActivationReadOnlyByConvsMovesIntoEachOfThem) {
  std::mt19937 rng(11);
  GraphMaker m;
  m.input("x");
  m.leaky("x", "a", 0.1f);
  m.conv("a", "c3", 32, 32, 3, 1);
  m.conv("a", "c5", 32, 32, 5, 1);
  m.conv("a", "c7", 32, 32, 7, 1);
  m.node("Add", {"c3", "x"}, "r3");
  m.node("Add", {"c5", "x"}, "r5");
  m.node("Add", {"c7", "x"}, "r7");
  m.node("Add", {"r3", "r5"}, "s");
  m.node("Add", {"s", "r7"}, "y");
  m.output("y");
  Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 32, 5000}, rng)}});
  EXPECT_EQ(count_ops(fused, "LeakyRelu"), 0u);
  EXPECT_EQ(count_ops(fused, "FusedConv"), 3u);
  for (const Node& node : fused.nodes) {
    if (node.op_type != "FusedConv") continue;
    EXPECT_EQ(node.get_string("input_activation", ""), "LeakyRelu") << node.name;
    EXPECT_EQ(node.inputs[0], "x") << node.name;
  }
  // When anything but a conv's X reads it too, the activation stays for everyone.
  GraphMaker shared;
  shared.input("x");
  shared.leaky("x", "a", 0.1f);
  shared.conv("a", "c", 8, 8, 3, 1);
  shared.node("Add", {"c", "a"}, "y");
  shared.output("y");
  Graph kept = expect_same_results(shared.graph, {{"x", random_tensor({1, 8, 40}, rng)}});
  EXPECT_EQ(count_ops(kept, "LeakyRelu"), 1u);
}

TEST(ActivationPastPad, MelganReflectPadThenConvLosesItsLeakyRelu) {
  std::mt19937 rng(10);
  for (const char* mode : {"reflect", "edge", "constant"}) {
    GraphMaker m;
    m.input("x");
    m.graph.initializers["pads"] = Tensor::from_vector<int64_t>({6}, {0, 0, 3, 0, 0, 3});
    m.leaky("x", "a", 0.2f);
    m.node("Pad", {"a", "pads"}, "padded").attributes["mode"] = std::string(mode);
    Node& conv = m.conv("padded", "y", 5, 4, 7, 1);
    conv.attributes["pads"] = std::vector<int64_t>{0, 0};
    m.output("y");
    Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 5, 40}, rng)}});
    EXPECT_EQ(count_ops(fused, "LeakyRelu"), 0u) << mode;
    // A reflect or zero pad goes into the conv as well (fuse_pad.cpp).
    EXPECT_EQ(count_ops(fused, "Pad"), std::string(mode) == "edge" ? 1u : 0u) << mode;
    EXPECT_EQ(count_ops(fused, "FusedConv"), 1u) << mode;
  }
  // A constant pad with a non-zero value does not commute with the activation: left alone.
  GraphMaker m;
  m.input("x");
  m.graph.initializers["pads"] = Tensor::from_vector<int64_t>({6}, {0, 0, 2, 0, 0, 2});
  m.graph.initializers["value"] = Tensor::scalar<float>(-1.0f);
  m.leaky("x", "a", 0.2f);
  m.node("Pad", {"a", "pads", "value"}, "padded");
  m.node("Neg", {"padded"}, "y");
  m.output("y");
  Graph graph = m.graph;
  EXPECT_FALSE(move_activation_past_pad(graph));
  expect_same_results(m.graph, {{"x", random_tensor({1, 5, 10}, rng)}});
}

// MelGAN's ReflectPad1d -> Conv pairs, with the pads computed from constants at run time as
// torch.onnx writes them: folded, then fused into the conv for offline runs, on short and on
// tiled lengths; left for the streamer, which refuses a fused one by name.
TEST(FuseReflectPad, PadsComputedFromConstantsGoIntoTheConvOffline) {
  std::mt19937 rng(12);
  for (int64_t dilation : {1, 3}) {
    GraphMaker m;
    m.input("x");
    m.graph.inputs[0].dims = {{1, ""}, {32, ""}, {-1, "frames"}};
    Node& head = m.node("Constant", {}, "head");
    head.attributes["value"] = Tensor::from_vector<int64_t>({4}, {0, 0, 0, 0});
    m.graph.initializers["tail"] = Tensor::from_vector<int64_t>({2}, {dilation, dilation});
    m.node("Concat", {"head", "tail"}, "pads_2x3").attributes["axis"] = int64_t{0};
    m.graph.initializers["order"] = Tensor::from_vector<int64_t>({6}, {0, 1, 4, 2, 3, 5});
    m.node("Gather", {"pads_2x3", "order"}, "pads").attributes["axis"] = int64_t{0};
    m.node("Pad", {"x", "pads"}, "padded").attributes["mode"] = std::string("reflect");
    m.conv("padded", "c", 32, 32, 3, dilation).attributes["pads"] = std::vector<int64_t>{0, 0};
    m.node("Add", {"c", "x"}, "y");
    m.output("y");
    for (int64_t frames : {40, 3000}) {  // whole and tiled
      Graph fused =
          expect_same_results(m.graph, {{"x", random_tensor({1, 32, frames}, rng)}}, 2e-4f);
      EXPECT_EQ(count_ops(fused, "Pad"), 0u);
      EXPECT_EQ(count_ops(fused, "Concat") + count_ops(fused, "Gather"), 0u);
      ASSERT_EQ(fused.nodes.size(), 1u);
      EXPECT_EQ(fused.nodes[0].get_string("pad_mode", ""), "reflect");
      EXPECT_EQ(fused.nodes[0].get_ints("pads"), (std::vector<int64_t>{dilation, dilation}));
      const stream::StreamPlan refused =
          stream::plan_stream(fused, {{"x", {-1, 1}}}, KernelOptions{});
      EXPECT_NE(refused.problem.find("reflect padding"), std::string::npos) << refused.problem;
    }
    Graph streaming = m.graph;
    optimize_graph(streaming, GraphUse::kStreaming);
    EXPECT_EQ(count_ops(streaming, "Pad"), 1u);
    const stream::StreamPlan plan =
        stream::plan_stream(streaming, {{"x", {-1, 1}}}, KernelOptions{});
    EXPECT_TRUE(plan.problem.empty()) << plan.problem;
  }
}

TEST(FuseReflectPad, LeavesPadsOfOtherAxesOrModesAndPaddedConvs) {
  std::mt19937 rng(13);
  const auto build = [](std::vector<int64_t> pads, const char* mode, int64_t conv_pad) {
    GraphMaker m;
    m.input("x");
    m.graph.initializers["pads"] = Tensor::from_vector<int64_t>({6}, pads);
    m.node("Pad", {"x", "pads"}, "padded").attributes["mode"] = std::string(mode);
    const int64_t channels = 4 + pads[1] + pads[4];
    m.conv("padded", "y", channels, 4, 3, 1).attributes["pads"] =
        std::vector<int64_t>{conv_pad, conv_pad};
    m.output("y");
    return m.graph;
  };
  for (const Graph& graph : {build({0, 1, 1, 0, 1, 1}, "reflect", 0),     // channels padded too
                             build({0, 0, 1, 0, 0, 1}, "edge", 0),        // another mode
                             build({0, 0, 1, 0, 0, 1}, "reflect", 1)}) {  // conv pads as well
    Graph fused = expect_same_results(graph, {{"x", random_tensor({1, 4, 30}, rng)}});
    EXPECT_EQ(count_ops(fused, "Pad"), 1u);
  }
}

TEST(FoldConstants, SmallConstantSubgraphsBecomeInitializersAndRandomOpsStay) {
  std::mt19937 rng(14);
  GraphMaker m;
  m.input("x");
  Node& two = m.node("Constant", {}, "two");
  two.attributes["value"] = Tensor::scalar<float>(2.0f);
  m.graph.initializers["three"] = Tensor::scalar<float>(3.0f);
  m.node("Mul", {"two", "three"}, "six");
  m.node("Mul", {"x", "six"}, "y");
  m.output("y");
  Graph graph = m.graph;
  EXPECT_TRUE(fold_constants(graph));
  EXPECT_EQ(count_ops(graph, "Constant"), 0u);
  EXPECT_EQ(count_ops(graph, "Mul"), 1u);
  ASSERT_TRUE(graph.initializers.count("six"));
  EXPECT_EQ(graph.initializers.at("six").to_float_vector(), std::vector<float>{6.0f});
  EXPECT_FALSE(fold_constants(graph));
  const Tensor x = random_tensor({1, 2, 5}, rng);
  Session session(m.graph, SessionOptions{1, false, false, true});
  const Tensor y = session.run({{"x", x}}).at("y");
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(y.data<float>()[i], 6.0f * x.data<float>()[i]);

  // A random op is never run ahead; neither is a node reading an initializer that is also a
  // graph input (an overridable default, not a constant).
  GraphMaker kept;
  kept.input("x");
  kept.input("gain");
  kept.graph.initializers["gain"] = Tensor::scalar<float>(1.0f);
  kept.graph.initializers["shape_of"] = Tensor::from_vector<float>({2}, {0.0f, 0.0f});
  kept.node("RandomUniformLike", {"shape_of"}, "noise");
  kept.node("Neg", {"gain"}, "minus_gain");
  kept.node("Mul", {"x", "minus_gain"}, "y");
  kept.output("y");
  kept.output("noise");
  EXPECT_FALSE(fold_constants(kept.graph));
}

TEST(FuseConv, BroadcastResidualFallsBackToAPlainAdd) {
  std::mt19937 rng(4);
  GraphMaker m;
  m.input("x");
  m.graph.initializers["offset"] = random_tensor({1, 5, 1}, rng);
  m.conv("x", "c", 5, 5, 3, 1);
  m.node("Add", {"c", "offset"}, "y");
  m.output("y");
  Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 5, 40}, rng)}});
  EXPECT_EQ(count_ops(fused, "FusedConv"), 1u);
}

TEST(FuseConv, LeavesValuesThatOthersReadOrThatAreReturned) {
  std::mt19937 rng(5);
  GraphMaker m;
  m.input("x");
  m.conv("x", "c1", 4, 4, 3, 1);
  m.leaky("c1", "a1", 0.1f);
  m.node("Add", {"c1", "a1"}, "y1");  // c1 has two readers: no fusion of c1
  m.conv("x", "c2", 4, 4, 3, 1);
  m.node("Tanh", {"c2"}, "y2");  // c2 is also a graph output: no fusion of c2
  m.output("y1");
  m.output("y2");
  m.output("c2");
  Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 4, 30}, rng)}});
  EXPECT_EQ(count_ops(fused, "Conv"), 2u);
  EXPECT_EQ(count_ops(fused, "FusedConv"), 0u);
}

TEST(FuseConv, AddOfAValueWithItselfIsNotAResidual) {
  std::mt19937 rng(6);
  GraphMaker m;
  m.input("x");
  m.conv("x", "c", 3, 3, 3, 1);
  m.node("Add", {"c", "c"}, "y");
  m.output("y");
  Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 3, 20}, rng)}});
  EXPECT_EQ(count_ops(fused, "Add"), 1u);
}

TEST(FusedConv, UnknownActivationIsRefusedNamingTheNode) {
  GraphMaker m;
  m.input("x");
  Node& n = m.conv("x", "y", 2, 2, 3, 1);
  n.domain = "com.amphora";
  n.op_type = "FusedConv";
  n.attributes["activation"] = std::string("Gelu");
  m.graph.opset_imports["com.amphora"] = 1;
  m.output("y");
  try {
    Session session(m.graph);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("Gelu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Conv_0"), std::string::npos) << e.what();
  }
}

// BigVGAN's Snake as the exporter writes it, freq as an initializer and inv and the exponent as
// Constant nodes, applied twice in a row (the second reads the first's output).
TEST(FuseSnake, SnakeChainsBecomeOneNodeWithTheSameResults) {
  GraphMaker m;
  m.input("x");
  const int64_t channels = 5;
  auto constant_node = [&](const std::string& name, Tensor value) {
    m.node("Constant", {}, name).attributes["value"] = std::move(value);
  };
  std::string value = "x";
  for (int k = 0; k < 2; ++k) {
    const std::string p = "s" + std::to_string(k) + "_";
    m.graph.initializers[p + "freq"] = random_tensor({1, channels, 1}, m.rng, 1.0f);
    constant_node(p + "inv", random_tensor({1, channels, 1}, m.rng, 1.0f));
    constant_node(p + "two", Tensor::scalar<float>(2.0f));
    m.node("Mul", {value, p + "freq"}, p + "scaled");
    m.node("Sin", {p + "scaled"}, p + "sin");
    m.node("Pow", {p + "sin", p + "two"}, p + "square");
    m.node("Mul", {p + "inv", p + "square"}, p + "weighed");
    m.node("Add", {value, p + "weighed"}, p + "y");
    value = p + "y";
  }
  m.output(value);
  std::mt19937 rng(3);
  for (int64_t t : {1, 7, 5000}) {  // 5000 x 5 channels: the parallel path
    const Graph fused =
        expect_same_results(m.graph, {{"x", random_tensor({1, channels, t}, rng, 3.0f)}}, 1e-5f);
    EXPECT_EQ(count_ops(fused, "Snake"), 2u);
    EXPECT_EQ(count_ops(fused, "Sin"), 0u);
    EXPECT_EQ(count_ops(fused, "Pow"), 0u);
  }
  // Inputs beyond the fast sine's range take libm's, in the fused kernel as in the graph.
  Tensor huge = random_tensor({1, channels, 9}, rng, 1.0f);
  huge.data<float>()[4] = 3e6f;
  expect_same_results(m.graph, {{"x", huge}}, 1e-5f);
}

TEST(FuseSnake, LeavesChainsWhoseValuesOthersReadOrWhoseExponentIsNotTwo) {
  for (int variant = 0; variant < 2; ++variant) {
    GraphMaker m;
    m.input("x");
    m.graph.initializers["freq"] = Tensor::from_vector<float>({1, 2, 1}, {0.5f, 2.0f});
    m.graph.initializers["inv"] = Tensor::from_vector<float>({1, 2, 1}, {1.0f, 3.0f});
    m.graph.initializers["exp"] = Tensor::scalar<float>(variant == 0 ? 3.0f : 2.0f);
    m.node("Mul", {"x", "freq"}, "scaled");
    m.node("Sin", {"scaled"}, "sin");
    m.node("Pow", {"sin", "exp"}, "square");
    m.node("Mul", {"inv", "square"}, "weighed");
    m.node("Add", {"x", "weighed"}, "y");
    m.output("y");
    if (variant == 1) m.output("sin");  // the sine is also a graph output
    std::mt19937 rng(4);
    const Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 2, 33}, rng)}});
    EXPECT_EQ(count_ops(fused, "Snake"), 0u) << "variant " << variant;
  }
}

// A transformer layer's attention as torch.onnx.export writes it: q, k, v projected from x
// [1, T, E], split into `heads` by Reshape + Transpose, scores scaled by `scaling` ("Div", "Mul"
// or none), with a BERT's padding mask added when `masked` (input "mask" [1, 1, 1, T] of 0 and
// -10000), Softmax, weighted values transposed back and joined. The Reshape targets are taken
// from x's shape at run time ([B, T] + [H, D]) when `runtime_targets`, else constants.
GraphMaker attention_layer(int64_t embed, int64_t heads, const std::string& scaling,
                           bool runtime_targets, bool scores_are_output = false,
                           bool masked = false) {
  GraphMaker m;
  m.input("x");
  if (masked)
    m.graph.inputs.push_back({"mask", DType::kFloat32, {{1, ""}, {1, ""}, {1, ""}, {-1, "keys"}}});
  const int64_t depth = embed / heads;
  for (const char* name : {"q", "k", "v"}) {
    const std::string w = std::string(name) + "_w";
    m.graph.initializers[w] = random_tensor({embed, embed}, m.rng, 0.3f);
    m.node("MatMul", {"x", w}, name);
  }
  m.graph.initializers["heads_depth"] = Tensor::from_vector<int64_t>({2}, {heads, depth});
  m.graph.initializers["joined"] = Tensor::from_vector<int64_t>({3}, {0, -1, embed});
  std::string split = "split";
  if (runtime_targets) {
    m.graph.initializers["zero"] = Tensor::from_vector<int64_t>({1}, {0});
    m.graph.initializers["two"] = Tensor::from_vector<int64_t>({1}, {2});
    m.node("Shape", {"x"}, "x_shape");
    m.node("Slice", {"x_shape", "zero", "two"}, "batch_steps");
    m.node("Concat", {"batch_steps", "heads_depth"}, split).attributes["axis"] = int64_t{0};
  } else {
    m.graph.initializers[split] = Tensor::from_vector<int64_t>({4}, {0, -1, heads, depth});
  }
  auto head_split = [&](const std::string& x, std::vector<int64_t> perm) {
    m.node("Reshape", {x, split}, x + "_heads");
    m.node("Transpose", {x + "_heads"}, x + "_t").attributes["perm"] = std::move(perm);
    return x + "_t";
  };
  const std::string q = head_split("q", {0, 2, 1, 3}), k = head_split("k", {0, 2, 3, 1});
  const std::string v = head_split("v", {0, 2, 1, 3});
  m.node("MatMul", {q, k}, "scores");
  std::string scaled = "scores";
  const float root = std::sqrt(static_cast<float>(depth));
  if (scaling == "Div") {
    m.graph.initializers["root"] = Tensor::scalar<float>(root);
    m.node("Div", {"scores", "root"}, scaled = "scaled");
  } else if (scaling == "Mul") {
    m.graph.initializers["inverse_root"] = Tensor::scalar<float>(1.0f / root);
    m.node("Mul", {"inverse_root", "scores"}, scaled = "scaled");
  }
  if (masked) {
    m.node("Add", {"mask", scaled}, "masked");
    scaled = "masked";
  }
  m.node("Softmax", {scaled}, "weights").attributes["axis"] = int64_t{-1};
  m.node("MatMul", {"weights", v}, "mixed");
  m.node("Transpose", {"mixed"}, "mixed_t").attributes["perm"] = std::vector<int64_t>{0, 2, 1, 3};
  m.node("Reshape", {"mixed_t", "joined"}, "y");
  m.output("y");
  if (scores_are_output) m.output(scaled);
  return m;
}

TEST(FuseAttention, HeadSplitAttentionBecomesOneNodeWithTheSameResults) {
  std::mt19937 rng(9);
  for (const std::string scaling : {"Div", "Mul", ""}) {
    for (bool runtime_targets : {false, true}) {
      const GraphMaker m = attention_layer(24, 3, scaling, runtime_targets);
      for (int64_t steps : {1, 7, 40}) {
        SCOPED_TRACE(::testing::Message() << "scaling '" << scaling << "' runtime targets "
                                          << runtime_targets << " steps " << steps);
        const Graph fused =
            expect_same_results(m.graph, {{"x", random_tensor({1, steps, 24}, rng)}}, 1e-5f);
        EXPECT_EQ(count_ops(fused, "Attention"), 1u);
        EXPECT_EQ(count_ops(fused, "Softmax"), 0u);
        EXPECT_EQ(count_ops(fused, "Transpose"), 0u);
        EXPECT_EQ(count_ops(fused, "MatMul") + count_ops(fused, "FusedMatMul"), 3u);
      }
    }
  }
}

TEST(FuseAttention, AMaskAddedToTheScoresRidesAlong) {
  const GraphMaker m = attention_layer(16, 2, "Div", true, false, true);
  std::mt19937 rng(11);
  for (int64_t steps : {3, 17}) {
    Tensor mask(DType::kFloat32, {1, 1, 1, steps});
    for (int64_t j = steps - 2; j < steps; ++j) mask.data<float>()[j] = -10000.0f;  // padding
    const Graph fused = expect_same_results(
        m.graph, {{"x", random_tensor({1, steps, 16}, rng)}, {"mask", mask}}, 1e-5f);
    EXPECT_EQ(count_ops(fused, "Attention"), 1u);
    EXPECT_EQ(count_ops(fused, "Add"), 0u);
  }
}

TEST(FuseAttention, LeavesAttentionWhoseScoresAreReadElsewhere) {
  const GraphMaker m = attention_layer(16, 2, "Div", false, true);
  std::mt19937 rng(10);
  const Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 5, 16}, rng)}}, 1e-5f);
  EXPECT_EQ(count_ops(fused, "Attention"), 0u);
  EXPECT_EQ(count_ops(fused, "Softmax"), 1u);
}

// A com.amphora node as the passes write it, writing "y".
Node amphora_node(const std::string& name, const std::string& op, std::vector<std::string> inputs) {
  register_amphora_domain_ops_once();
  Node node;
  node.name = name;
  node.domain = kAmphoraDomain;
  node.op_type = op;
  node.inputs = std::move(inputs);
  node.outputs = {"y"};
  return node;
}

TEST(FusedSnake, WrongCoefficientCountIsRefusedNamingTheNode) {
  const Node node = amphora_node("snake_7", "Snake", {"x", "f", "i"});
  auto kernel = OpRegistry::instance().create(node, 1, KernelOptions{});
  Tensor x(DType::kFloat32, {1, 3, 4});
  Tensor two(DType::kFloat32, {1, 2, 1});
  testing::expect_error(
      [&] {
        kernel->run({&x, &two, &two});
      },
      ErrorCode::kInvalidArgument, {"snake_7", "[1, 3, 4]"});
}

// Vocos' ConvNeXt pointwise layers: x [1, T, C] -> Linear + GELU -> Linear -> layer scale.
GraphMaker convnext_mlp(int64_t channels, int64_t hidden, bool gelu_value_is_output) {
  GraphMaker m;
  m.graph.inputs.push_back({"x", DType::kFloat32, {{1, ""}, {-1, "T"}, {channels, ""}}});
  auto constant_node = [&](const std::string& name, float value) {
    m.node("Constant", {}, name).attributes["value"] = Tensor::scalar<float>(value);
  };
  m.graph.initializers["w1"] = random_tensor({channels, hidden}, m.rng, 0.3f);
  m.graph.initializers["b1"] = random_tensor({hidden}, m.rng, 0.3f);
  m.graph.initializers["w2"] = random_tensor({hidden, channels}, m.rng, 0.2f);
  m.graph.initializers["b2"] = random_tensor({channels}, m.rng, 0.3f);
  m.graph.initializers["gamma"] = random_tensor({channels}, m.rng, 1.0f);
  constant_node("sqrt2", std::sqrt(2.0f));
  constant_node("one", 1.0f);
  constant_node("half", 0.5f);
  m.node("MatMul", {"x", "w1"}, "mm1");
  m.node("Add", {"b1", "mm1"}, "h");
  m.node("Div", {"h", "sqrt2"}, "scaled");
  m.node("Erf", {"scaled"}, "erf");
  m.node("Add", {"erf", "one"}, "erf1");
  m.node("Mul", {"h", "erf1"}, "gated");
  m.node("Mul", {"gated", "half"}, "act");
  m.node("MatMul", {"act", "w2"}, "mm2");
  m.node("Add", {"mm2", "b2"}, "h2");
  m.node("Mul", {"gamma", "h2"}, "y");
  m.output("y");
  if (gelu_value_is_output) m.output("erf");
  return m;
}

TEST(FuseMatmul, LinearGeluAndLayerScaleBecomeTwoNodesWithTheSameResults) {
  const GraphMaker m = convnext_mlp(24, 72, false);
  std::mt19937 rng(5);
  for (int64_t t : {1, 9, 300}) {
    const Graph fused =
        expect_same_results(m.graph, {{"x", random_tensor({1, t, 24}, rng, 2.0f)}}, 2e-4f);
    EXPECT_EQ(count_ops(fused, "FusedMatMul"), 2u);
    EXPECT_EQ(fused.nodes.size(), 2u);  // the GELU's Constants went with it
    EXPECT_EQ(fused.nodes[0].get_string("activation", ""), "Gelu");
    EXPECT_FALSE(fused.nodes[1].has("activation"));
    // gamma folded into new weights (the caller's graph shares the originals), the originals
    // dropped from the optimized graph, which no longer reads them.
    EXPECT_TRUE(fused.initializers.count("w2_scaled"));
    EXPECT_FALSE(fused.initializers.count("w2"));
  }
}

// When the optimized graph alone holds the weights (a model loaded from a file), they are scaled
// in place: no second copy of what can be half a model.
TEST(FuseMatmul, LayerScaleOfWeightsNobodyElseHoldsIsFoldedInPlace) {
  const GraphMaker m = convnext_mlp(16, 48, false);
  std::mt19937 rng(7);
  const Tensor x = random_tensor({1, 40, 16}, rng, 2.0f);
  Session reference(m.graph, SessionOptions{1, true, false, false});
  const Tensor want = reference.run({{"x", x}}).at("y");
  Graph own = m.graph;
  for (auto& [name, tensor] : own.initializers) tensor = tensor.clone();
  const Tensor original_w2 = own.initializers.at("w2").clone();
  const float* w2_buffer = own.initializers.at("w2").data<float>();
  optimize_graph(own);
  ASSERT_TRUE(own.initializers.count("w2"));
  EXPECT_FALSE(own.initializers.count("w2_scaled"));
  const Tensor& scaled = own.initializers.at("w2");
  EXPECT_EQ(scaled.data<float>(), w2_buffer);
  const float* gamma = m.graph.initializers.at("gamma").data<float>();
  for (int64_t i = 0; i < scaled.numel(); ++i) {
    ASSERT_EQ(scaled.data<float>()[i], original_w2.data<float>()[i] * gamma[i % 16]) << i;
  }
  Session session(std::move(own), SessionOptions{1, false, false, false});
  const Tensor got = session.run({{"x", x}}).at("y");
  float worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    worst = std::max(worst, std::fabs(got.data<float>()[i] - want.data<float>()[i]));
  }
  EXPECT_LE(worst, 2e-4f);
}

TEST(FuseMatmul, AGeluWhoseInsideIsReadElsewhereStaysUnfused) {
  const GraphMaker m = convnext_mlp(8, 16, true);
  std::mt19937 rng(6);
  const Graph fused = expect_same_results(m.graph, {{"x", random_tensor({1, 5, 8}, rng)}}, 2e-4f);
  EXPECT_EQ(count_ops(fused, "FusedMatMul"), 2u);  // the linear parts still fuse
  EXPECT_EQ(count_ops(fused, "Erf"), 1u);
  for (const Node& node : fused.nodes) EXPECT_FALSE(node.has("activation")) << node.name;
}

TEST(FusedMatMul, WrongBiasSizeIsRefusedNamingTheNode) {
  Node node = amphora_node("linear_3", "FusedMatMul", {"x", "w", "b"});
  auto kernel = OpRegistry::instance().create(node, 1, KernelOptions{});
  Tensor x(DType::kFloat32, {1, 4, 3}), w(DType::kFloat32, {3, 5}), b(DType::kFloat32, {4});
  testing::expect_error(
      [&] {
        kernel->run({&x, &w, &b});
      },
      ErrorCode::kInvalidArgument, {"linear_3", "bias [4]"});
  node.attributes["activation"] = std::string("Swish");
  testing::expect_error([&] { OpRegistry::instance().create(node, 1, KernelOptions{}); },
                        ErrorCode::kInvalidModel, {"linear_3", "Swish"});
}

// Vocos' backbone as exported: x [1, C, T] -> Transpose -> LayerNorm -> Transpose, then
// `blocks` ConvNeXt blocks (depthwise Conv k7 -> Transpose -> LayerNorm -> Linear + GELU ->
// Linear -> layer scale -> Transpose -> residual Add), then Transpose -> final LayerNorm ->
// y [1, T, C].
GraphMaker vocos_backbone(int64_t channels, int64_t hidden, int blocks) {
  GraphMaker m;
  m.graph.inputs.push_back({"x", DType::kFloat32, {{1, ""}, {channels, ""}, {-1, "T"}}});
  auto transpose = [&](const std::string& in, const std::string& out) {
    m.node("Transpose", {in}, out).attributes["perm"] = std::vector<int64_t>{0, 2, 1};
  };
  auto layer_norm = [&](const std::string& in, const std::string& out) {
    m.graph.initializers[out + "_s"] = random_tensor({channels}, m.rng, 1.0f);
    m.graph.initializers[out + "_b"] = random_tensor({channels}, m.rng, 0.3f);
    Node& n = m.node("LayerNormalization", {in, out + "_s", out + "_b"}, out);
    n.attributes["axis"] = int64_t{-1};
    n.attributes["epsilon"] = 1e-6f;
  };
  auto constant_node = [&](const std::string& name, float value) {
    m.node("Constant", {}, name).attributes["value"] = Tensor::scalar<float>(value);
  };
  transpose("x", "x_tc");
  layer_norm("x_tc", "norm0");
  transpose("norm0", "h0");
  std::string h = "h0";
  for (int i = 0; i < blocks; ++i) {
    const std::string p = fmt::format("b{}_", i);
    m.conv(h, p + "dw", channels, channels, 7, 1).attributes["group"] = channels;
    m.graph.initializers[p + "dw_w"] = random_tensor({channels, 1, 7}, m.rng, 0.4f);
    transpose(p + "dw", p + "tc");
    layer_norm(p + "tc", p + "norm");
    m.graph.initializers[p + "w1"] = random_tensor({channels, hidden}, m.rng, 0.3f);
    m.graph.initializers[p + "b1"] = random_tensor({hidden}, m.rng, 0.3f);
    m.graph.initializers[p + "w2"] = random_tensor({hidden, channels}, m.rng, 0.2f);
    m.graph.initializers[p + "b2"] = random_tensor({channels}, m.rng, 0.3f);
    m.graph.initializers[p + "gamma"] = random_tensor({channels}, m.rng, 0.5f);
    constant_node(p + "sqrt2", std::sqrt(2.0f));
    constant_node(p + "one", 1.0f);
    constant_node(p + "half", 0.5f);
    m.node("MatMul", {p + "norm", p + "w1"}, p + "mm1");
    m.node("Add", {p + "b1", p + "mm1"}, p + "l1");
    m.node("Div", {p + "l1", p + "sqrt2"}, p + "scaled");
    m.node("Erf", {p + "scaled"}, p + "erf");
    m.node("Add", {p + "erf", p + "one"}, p + "erf1");
    m.node("Mul", {p + "l1", p + "erf1"}, p + "gated");
    m.node("Mul", {p + "gated", p + "half"}, p + "act");
    m.node("MatMul", {p + "act", p + "w2"}, p + "mm2");
    m.node("Add", {p + "b2", p + "mm2"}, p + "l2");
    m.node("Mul", {p + "gamma", p + "l2"}, p + "scaled2");
    transpose(p + "scaled2", p + "back");
    m.node("Add", {h, p + "back"}, p + "out");
    h = p + "out";
  }
  transpose(h, "final_tc");
  layer_norm("final_tc", "y");
  m.output("y");
  return m;
}

TEST(ConvNeXtChannelsLast, VocosBlocksStayChannelsLastWithTheSameResults) {
  const GraphMaker m = vocos_backbone(24, 64, 3);
  std::mt19937 rng(21);
  for (int64_t t : {1, 7, 300}) {
    const Graph fused =
        expect_same_results(m.graph, {{"x", random_tensor({1, 24, t}, rng, 2.0f)}}, 2e-4f);
    EXPECT_EQ(count_ops(fused, "DwConvLayerNorm"), 3u);
    EXPECT_EQ(count_ops(fused, "FusedMatMul"), 6u);
    EXPECT_EQ(count_ops(fused, "Conv") + count_ops(fused, "Add"), 0u);
    EXPECT_EQ(count_ops(fused, "Transpose"), 1u);  // the input's only
    EXPECT_EQ(count_ops(fused, "LayerNormalization"), 2u);
    size_t residuals = 0;
    for (const Node& node : fused.nodes)
      residuals += node.op_type == "FusedMatMul" && node.inputs.size() == 4;
    EXPECT_EQ(residuals, 3u);
  }
}

// The streamer follows the rewritten graph: its plan has the conv's field (3 frames each way per
// block), and streamed output equals the offline output of the same graph for any push sizes.
TEST(ConvNeXtChannelsLast, StreamsExactlyAsTheOfflineGraph) {
  const GraphMaker m = vocos_backbone(16, 32, 2);
  auto graph = std::make_shared<Graph>(m.graph);
  optimize_graph(*graph, GraphUse::kStreaming);
  EXPECT_EQ(count_ops(*graph, "DwConvLayerNorm"), 2u);
  KernelOptions options;
  options.reference = true;  // the same arithmetic for every chunk size
  auto plan =
      std::make_shared<stream::StreamPlan>(stream::plan_stream(*graph, {{"x", {2, 1}}}, options));
  ASSERT_TRUE(plan->problem.empty()) << plan->problem;
  EXPECT_EQ(plan->field.history_frames, 6);
  EXPECT_EQ(plan->field.lookahead_frames, 6);
  std::mt19937 rng(22);
  const Tensor x = random_tensor({1, 16, 50}, rng);
  Session offline(*graph, SessionOptions{1, true, false, false});
  const Tensor want = offline.run({{"x", x}}).at("y");
  for (uint64_t seed = 0; seed < 3; ++seed) {
    stream::GraphStreamer streamer(graph, plan, options);
    std::mt19937 pick(static_cast<unsigned>(seed));
    std::vector<Tensor> pieces;
    for (int64_t at = 0; at < 50;) {
      const int64_t n = std::min<int64_t>(1 + static_cast<int64_t>(pick() % 9), 50 - at);
      pieces.push_back(streamer.push({{"x", stream::slice_axis(x, 2, at, n)}}).at("y"));
      at += n;
    }
    pieces.push_back(streamer.finish().at("y"));
    std::vector<float> got;
    for (const Tensor& piece : pieces) {
      if (piece.rank() != 3) continue;  // nothing final yet
      ASSERT_EQ(piece.dim(2), 16);
      const float* v = piece.data<float>();
      got.insert(got.end(), v, v + piece.numel());
    }
    ASSERT_EQ(static_cast<int64_t>(got.size()), want.numel()) << "seed " << seed;
    for (int64_t i = 0; i < want.numel(); ++i) {
      ASSERT_EQ(got[static_cast<size_t>(i)], want.data<float>()[i]) << "seed " << seed << " " << i;
    }
  }
}

// Blocks that differ from the pattern stay as they are: a residual from elsewhere, a strided
// conv, a LayerNorm value read twice.
TEST(ConvNeXtChannelsLast, LeavesBlocksThatDifferAlone) {
  std::mt19937 rng(23);
  for (int variant = 0; variant < 3; ++variant) {
    GraphMaker m = vocos_backbone(8, 16, 1);
    Graph& g = m.graph;
    for (Node& node : g.nodes) {
      if (variant == 0 && node.op_type == "Add" && node.outputs[0] == "b0_out") {
        node.inputs[0] = "x";  // residual is not the conv's input
      }
      if (variant == 1 && node.op_type == "Conv") {
        node.attributes["pads"] = std::vector<int64_t>{3, 2};  // output one step shorter
      }
    }
    if (variant == 1) {
      // Keep the graph valid: the residual add would not broadcast, so drop the block's Add.
      for (Node& node : g.nodes) {
        if (node.outputs[0] == "b0_out") {
          node.op_type = "Identity";
          node.inputs = {"b0_back"};
        }
      }
    }
    if (variant == 2) m.output("b0_norm");
    const Graph fused =
        expect_same_results(g, {{"x", random_tensor({1, 8, 20}, rng, 2.0f)}}, 2e-4f);
    EXPECT_EQ(count_ops(fused, "DwConvLayerNorm"), 0u) << "variant " << variant;
  }
}

TEST(RemoveDeadNodes, DropsNodesAndInitializersNobodyReads) {
  std::mt19937 rng(8);
  GraphMaker m;
  m.input("x");
  m.input("default_gain");
  m.graph.initializers["default_gain"] = Tensor::scalar<float>(1.0f);  // an input's default
  m.graph.initializers["bias"] = Tensor::scalar<float>(0.5f);
  m.node("Add", {"x", "bias"}, "unused");
  m.node("Neg", {"unused"}, "unused2");
  m.node("Tanh", {"x"}, "y");
  m.output("y");
  Graph graph = m.graph;
  EXPECT_TRUE(remove_dead_nodes(graph));
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op_type, "Tanh");
  EXPECT_EQ(graph.nodes[0].index, 0u);
  EXPECT_FALSE(graph.initializers.count("bias"));
  EXPECT_TRUE(graph.initializers.count("default_gain"));
  EXPECT_FALSE(remove_dead_nodes(graph));
  expect_same_results(m.graph, {{"x", random_tensor({1, 2, 5}, rng)},
                                {"default_gain", random_tensor({1, 2, 5}, rng)}});
}

TEST(Profile, RecordsEveryNodeWithShapesAndConvFlops) {
  std::mt19937 rng(9);
  GraphMaker m;
  m.input("x");
  m.conv("x", "c", 4, 8, 3, 1);
  m.leaky("c", "y", 0.1f);
  m.output("y");
  Session session(m.graph, SessionOptions{1, false, true, true});
  EXPECT_TRUE(session.last_profile().empty());
  session.run({{"x", random_tensor({1, 4, 100}, rng)}});
  auto profile = session.last_profile();
  ASSERT_EQ(profile.size(), 1u);  // conv + LeakyRelu fused
  EXPECT_EQ(profile[0].op_type, "FusedConv");
  EXPECT_EQ(profile[0].output_shapes[0], (Shape{1, 8, 100}));
  EXPECT_DOUBLE_EQ(profile[0].flops, 2.0 * 8 * 100 * 4 * 3);
  EXPECT_GE(profile[0].ms, 0.0);
}

// The rewrites `amphora optimize` writes back as standard ONNX (GraphUse::kPortable); the
// runtime runs them too.

TEST(RemoveIdentities, IdentityDropoutAndSameTypeCastGoAndGraphOutputsKeepTheirNames) {
  std::mt19937 rng(9);
  GraphMaker m;
  m.input("x");
  m.node("Identity", {"x"}, "x1");
  m.node("Tanh", {"x1"}, "t");
  m.node("Dropout", {"t"}, "d");
  m.node("Cast", {"d"}, "c").attributes["to"] = int64_t{1};  // float -> float
  for (const char* value : {"t", "d"})
    m.graph.value_info[value] = {value, DType::kFloat32, {}, false};
  m.node("Neg", {"c"}, "n");
  m.node("Identity", {"n"}, "y");            // into a graph output: Neg writes "y" instead
  m.node("Identity", {"x"}, "passthrough");  // input straight to output: stays
  m.output("y");
  m.output("passthrough");
  Graph graph = m.graph;
  EXPECT_TRUE(remove_identities(graph));
  ASSERT_EQ(graph.nodes.size(), 3u);
  EXPECT_EQ(graph.nodes[0].op_type, "Tanh");
  EXPECT_EQ(graph.nodes[0].inputs[0], "x");
  EXPECT_EQ(graph.nodes[1].op_type, "Neg");
  EXPECT_EQ(graph.nodes[1].inputs[0], "t");
  EXPECT_EQ(graph.nodes[1].outputs[0], "y");
  EXPECT_EQ(graph.nodes[2].op_type, "Identity");
  EXPECT_FALSE(remove_identities(graph));
  expect_same_results(m.graph, {{"x", random_tensor({1, 3, 7}, rng)}});
}

TEST(RemoveIdentities, CastToAnotherTypeOrADropoutWhoseMaskIsReadStays) {
  GraphMaker m;
  m.input("x");
  m.node("Cast", {"x"}, "i").attributes["to"] = int64_t{7};  // float -> int64
  Node& dropout = m.node("Dropout", {"x"}, "d");
  dropout.outputs.push_back("mask");
  m.output("i");
  m.output("d");
  m.output("mask");
  Graph graph = m.graph;
  EXPECT_FALSE(remove_identities(graph));
  EXPECT_EQ(graph.nodes.size(), 2u);
}

TEST(FoldBatchNorm, ConvThenBatchNormIsOneConvWithTheSameResults) {
  std::mt19937 rng(10);
  GraphMaker m;
  m.input("x");
  m.conv("x", "c", 3, 4, 3, 1);
  m.output("c");
  const Graph conv_only = m.graph;  // the reference: BatchNormalization applied below by hand
  m.graph.outputs.clear();
  std::vector<float> gamma = {0.5f, 1.5f, -1.0f, 2.0f}, beta = {0.1f, -0.2f, 0.3f, 0.0f};
  std::vector<float> mean = {0.2f, -0.1f, 0.0f, 1.0f}, var = {1.0f, 0.25f, 4.0f, 0.5f};
  auto vec = [](const std::vector<float>& v) {
    Tensor t(DType::kFloat32, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.data<float>());
    return t;
  };
  m.graph.initializers["gamma"] = vec(gamma);
  m.graph.initializers["beta"] = vec(beta);
  m.graph.initializers["mean"] = vec(mean);
  m.graph.initializers["var"] = vec(var);
  m.node("BatchNormalization", {"c", "gamma", "beta", "mean", "var"}, "y").attributes["epsilon"] =
      1e-3f;
  m.output("y");
  Graph graph = m.graph;
  EXPECT_TRUE(fold_batch_norm(graph));
  ASSERT_EQ(graph.nodes.size(), 1u);
  EXPECT_EQ(graph.nodes[0].op_type, "Conv");
  EXPECT_EQ(graph.nodes[0].outputs[0], "y");

  const std::map<std::string, Tensor> inputs = {{"x", random_tensor({1, 3, 9}, rng)}};
  const Tensor c = Session(conv_only, SessionOptions{1, true, false, false}).run(inputs).at("c");
  const Tensor y = Session(graph, SessionOptions{1, true, false, false}).run(inputs).at("y");
  ASSERT_EQ(y.shape(), c.shape());
  for (int64_t ch = 0; ch < 4; ++ch) {
    for (int64_t t = 0; t < 9; ++t) {
      const float want =
          (c.data<float>()[ch * 9 + t] - mean[ch]) / std::sqrt(var[ch] + 1e-3f) * gamma[ch] +
          beta[ch];
      EXPECT_NEAR(y.data<float>()[ch * 9 + t], want, 1e-5f) << ch << "," << t;
    }
  }
}

TEST(FuseZeroPad, ZeroPadOfTimeJoinsTheConvPadsOtherPadsStay) {
  std::mt19937 rng(11);
  GraphMaker m;
  m.input("x");
  auto pads = [&](const std::string& name, std::vector<int64_t> p) {
    Tensor t(DType::kInt64, {static_cast<int64_t>(p.size())});
    std::copy(p.begin(), p.end(), t.data<int64_t>());
    m.graph.initializers[name] = std::move(t);
  };
  pads("time_pads", {0, 0, 2, 0, 0, 1});
  pads("channel_pads", {0, 1, 0, 0, 0, 0});
  m.graph.initializers["one"] = Tensor::scalar<float>(1.0f);
  m.node("Pad", {"x", "time_pads"}, "p");
  m.conv("p", "c", 3, 3, 3, 2);                    // pads 2, 2 of its own
  m.node("Pad", {"c", "time_pads", "one"}, "p1");  // pads with ones: stays
  m.conv("p1", "c1", 3, 3, 3, 1);
  m.node("Pad", {"c1", "channel_pads"}, "p2");  // pads channels: stays
  m.conv("p2", "y", 4, 2, 1, 1);
  m.output("y");
  Graph graph = m.graph;
  EXPECT_TRUE(fuse_zero_pad(graph));
  EXPECT_EQ(count_ops(graph, "Pad"), 2u);
  EXPECT_EQ(graph.nodes[0].op_type, "Conv");
  EXPECT_EQ(graph.nodes[0].get_ints("pads"), (std::vector<int64_t>{4, 3}));
  EXPECT_FALSE(fuse_zero_pad(graph));
  expect_same_results(m.graph, {{"x", random_tensor({1, 3, 11}, rng)}});
}

TEST(FuseGemm, MatrixTimesConstantPlusBiasBecomesGemmWithTheSameResults) {
  std::mt19937 rng(12);
  GraphMaker m;
  m.graph.inputs.push_back({"x", DType::kFloat32, {{-1, "N"}, {6, ""}}});
  m.graph.inputs.push_back({"batched", DType::kFloat32, {{1, ""}, {-1, "N"}, {6, ""}}});
  m.graph.initializers["w"] = random_tensor({6, 5}, rng);
  m.graph.initializers["b"] = random_tensor({5}, rng);
  m.node("MatMul", {"x", "w"}, "xw");
  m.node("Add", {"xw", "b"}, "y");
  m.node("MatMul", {"batched", "w"}, "bw");  // rank 3: Gemm cannot take it
  m.node("Add", {"bw", "b"}, "z");
  m.output("y");
  m.output("z");
  Graph graph = m.graph;
  EXPECT_TRUE(fuse_gemm(graph));
  EXPECT_EQ(count_ops(graph, "Gemm"), 1u);
  EXPECT_EQ(count_ops(graph, "MatMul"), 1u);
  Session reference(m.graph, SessionOptions{1, true, false, false});
  Session rewritten(graph, SessionOptions{1, true, false, false});
  const std::map<std::string, Tensor> inputs = {{"x", random_tensor({4, 6}, rng)},
                                                {"batched", random_tensor({1, 4, 6}, rng)}};
  const Tensor want = reference.run(inputs).at("y");
  const Tensor have = rewritten.run(inputs).at("y");
  for (int64_t i = 0; i < want.numel(); ++i) {
    EXPECT_NEAR(have.data<float>()[i], want.data<float>()[i], 1e-5f);
  }
}

TEST(FoldShapes, ShapeOfKnownDimsIsAConstantSymbolicOnesStay) {
  GraphMaker m;
  m.input("x");  // [1, C, T]: symbolic
  m.graph.inputs.push_back({"fixed", DType::kFloat32, {{2, ""}, {3, ""}, {4, ""}}});
  m.node("Shape", {"x"}, "x_shape");
  m.node("Shape", {"fixed"}, "fixed_tail").attributes["start"] = int64_t{-2};
  m.node("Size", {"fixed"}, "fixed_size");
  m.output("x_shape");
  m.output("fixed_tail2");
  m.node("Identity", {"fixed_tail"}, "fixed_tail2");
  m.node("Identity", {"fixed_size"}, "fixed_size2");
  m.output("fixed_size2");
  Graph graph = m.graph;
  EXPECT_TRUE(fold_shapes(graph));
  EXPECT_EQ(count_ops(graph, "Shape"), 1u);
  EXPECT_EQ(count_ops(graph, "Size"), 0u);
  const Tensor& tail = graph.initializers.at("fixed_tail");
  ASSERT_EQ(tail.numel(), 2);
  EXPECT_EQ(tail.data<int64_t>()[0], 3);
  EXPECT_EQ(tail.data<int64_t>()[1], 4);
  EXPECT_EQ(graph.initializers.at("fixed_size").data<int64_t>()[0], 24);
}

TEST(OptimizeGraph, PortableUseWritesOnlyStandardOpsAndFoldsLargeConstants) {
  std::mt19937 rng(13);
  GraphMaker m;
  m.input("x");
  // A weight-norm chain over a weight too large for the runtime's folding limit.
  m.graph.initializers["v"] = random_tensor({300, 300, 1}, rng);
  m.graph.initializers["g"] = random_tensor({300, 1, 1}, rng);
  m.node("ReduceL2", {"v"}, "norm").attributes["axes"] = std::vector<int64_t>{1, 2};
  m.node("Div", {"v", "norm"}, "direction");
  m.node("Mul", {"direction", "g"}, "w");
  m.node("Conv", {"x", "w"}, "c");
  m.node("LeakyRelu", {"c"}, "y").attributes["alpha"] = 0.1f;
  m.output("y");
  m.graph.opset_imports[""] = 13;
  Graph portable = m.graph;
  optimize_graph(portable, GraphUse::kPortable);
  ASSERT_EQ(portable.nodes.size(), 2u);
  for (const Node& node : portable.nodes) EXPECT_TRUE(node.domain.empty()) << node.op_type;
  Graph runtime = m.graph;
  optimize_graph(runtime, GraphUse::kOffline);
  EXPECT_EQ(count_ops(runtime, "Div"), 1u);  // 90000 values: over the load-time limit
  expect_same_results(m.graph, {{"x", random_tensor({1, 300, 5}, rng)}}, 1e-3f);
}

// --- fuse_int8: QDQ-quantized convs and matmuls -> int8 com.amphora nodes ---

// x -> QuantizeLinear -> DequantizeLinear (scalar `scale`, int8 zero point `zero`) -> y.
void qdq(GraphMaker& m, const std::string& x, const std::string& y, float scale, int8_t zero = 0) {
  m.graph.initializers[y + "_scale"] = Tensor::scalar<float>(scale);
  m.graph.initializers[y + "_zero"] = Tensor::scalar<int8_t>(zero);
  m.node("QuantizeLinear", {x, y + "_scale", y + "_zero"}, y + "_q");
  m.node("DequantizeLinear", {y + "_q", y + "_scale", y + "_zero"}, y);
}

// Random int8 weights of `shape` with one scale per index of `axis` (values ~ N(0, 1/fan_in)),
// behind a DequantizeLinear; returns its output.
std::string int8_weights(GraphMaker& m, const std::string& name, const Shape& shape, int64_t axis,
                         int64_t fan_in) {
  Tensor q(DType::kInt8, shape);
  std::uniform_int_distribution<int> value(-127, 127);
  for (int64_t i = 0; i < q.numel(); ++i) q.data<int8_t>()[i] = static_cast<int8_t>(value(m.rng));
  Tensor scale(DType::kFloat32, {shape[axis]});
  std::uniform_real_distribution<float> spread(0.5f, 1.5f);
  const float base = 1.7f / (127.0f * std::sqrt(static_cast<float>(fan_in)));
  for (int64_t c = 0; c < shape[axis]; ++c) scale.data<float>()[c] = base * spread(m.rng);
  m.graph.initializers[name + "_q"] = q;
  m.graph.initializers[name + "_scale"] = scale;
  m.graph.initializers[name + "_zero"] = Tensor(DType::kInt8, {shape[axis]});
  m.node("DequantizeLinear", {name + "_q", name + "_scale", name + "_zero"}, name)
      .attributes["axis"] = axis;
  return name;
}

Node& conv1d(GraphMaker& m, const std::string& op, std::vector<std::string> inputs,
             const std::string& y, int64_t k, int64_t dilation, int64_t stride, int64_t pad) {
  Node& n = m.node(op, std::move(inputs), y);
  n.attributes["kernel_shape"] = std::vector<int64_t>{k};
  n.attributes["dilations"] = std::vector<int64_t>{dilation};
  n.attributes["strides"] = std::vector<int64_t>{stride};
  n.attributes["pads"] = std::vector<int64_t>{pad, pad};
  return n;
}

size_t count_int8(const Graph& graph) {
  size_t n = 0;
  for (const Node& node : graph.nodes) n += node.has("x_scale");
  return n;
}

// A HiFi-GAN resblock, an upsampler and a Vocos-style projection, all quantized as
// `amphora quantize --int8` writes them:
//   x -> LeakyRelu -> QDQ -> Conv k7 (+ x) -> r -> LeakyRelu -> QDQ -> Conv k3 d3 -> LeakyRelu
//     -> QDQ -> ConvTranspose x4 -> up;   r -> Transpose -> QDQ -> MatMul [16, 12] -> proj
Graph quantized_block() {
  GraphMaker m;
  const int64_t c = 16;
  m.input("x");
  m.leaky("x", "a1", 0.1f);
  qdq(m, "a1", "a1_dq", 0.02f);
  const std::string w1 = int8_weights(m, "w1", {c, c, 7}, 0, c * 7);
  m.graph.initializers["b1"] = random_tensor({c}, m.rng, 0.1f);
  conv1d(m, "Conv", {"a1_dq", w1, "b1"}, "c1", 7, 1, 1, 3);
  m.node("Add", {"c1", "x"}, "r");
  m.leaky("r", "a2", 0.1f);
  qdq(m, "a2", "a2_dq", 0.03f);
  const std::string w2 = int8_weights(m, "w2", {c, c, 3}, 0, c * 3);
  conv1d(m, "Conv", {"a2_dq", w2}, "c2", 3, 3, 1, 3);
  m.leaky("c2", "a3", 0.1f);
  qdq(m, "a3", "a3_dq", 0.02f);
  const std::string wt = int8_weights(m, "wt", {c, 8, 8}, 1, c * 2);
  m.graph.initializers["bt"] = random_tensor({8}, m.rng, 0.1f);
  conv1d(m, "ConvTranspose", {"a3_dq", wt, "bt"}, "up", 8, 1, 4, 2);
  m.node("Transpose", {"r"}, "r_t").attributes["perm"] = std::vector<int64_t>{0, 2, 1};
  qdq(m, "r_t", "r_dq", 0.02f);
  const std::string wm = int8_weights(m, "wm", {c, 12}, 1, c);
  m.node("MatMul", {"r_dq", wm}, "proj");
  m.output("up");
  m.output("proj");
  return std::move(m.graph);
}

TEST(FuseInt8, QuantizedConvsAndMatMulRunInt8WithTheQdqGraphsResults) {
  register_amphora_domain_ops_once();
  const Graph graph = quantized_block();
  Graph optimized = graph;
  optimize_graph(optimized, GraphUse::kOffline);
  EXPECT_EQ(count_int8(optimized), 4u);
  EXPECT_EQ(count_ops(optimized, "QuantizeLinear") + count_ops(optimized, "DequantizeLinear"), 0u);
  EXPECT_EQ(count_ops(optimized, "LeakyRelu"), 0u);  // each one moved into its conv
  EXPECT_EQ(count_ops(optimized, "FusedConv"), 2u);
  EXPECT_EQ(count_ops(optimized, "FusedConvTranspose"), 1u);
  EXPECT_EQ(count_ops(optimized, "FusedMatMul"), 1u);
  for (const Node& node : optimized.nodes) {
    if (node.name == "Conv_4") {  // the first conv: input LeakyRelu and the residual
      EXPECT_EQ(node.get_string("input_activation", ""), "LeakyRelu");
      EXPECT_EQ(node.inputs.size(), 4u);
    }
  }
  for (GraphUse use : {GraphUse::kStreaming}) {
    Graph streamed = graph;
    optimize_graph(streamed, use);
    EXPECT_EQ(count_int8(streamed), 4u);
  }
  Graph portable = graph;
  optimize_graph(portable, GraphUse::kPortable);  // standard ONNX only
  EXPECT_EQ(count_int8(portable), 0u);
  EXPECT_EQ(count_ops(portable, "QuantizeLinear"), 4u);

  std::mt19937 rng(3);
  // The int8 kernels see the same int8 values and sum them exactly; the float results differ
  // from the QDQ graph's only by summation order (~1e-6), except where such a difference moves
  // a conv's output across a rounding boundary of the next QuantizeLinear: one quantum (0.03)
  // times a weight downstream. The tolerance allows a few of those; the op tests
  // (test_ops_int8.cpp) check each kernel tightly.
  expect_same_results(graph, {{"x", random_tensor({1, 16, 150}, rng)}}, 1e-2f);
}

TEST(FuseInt8, LeavesInexactPatternsOnTheReferencePath) {
  register_amphora_domain_ops_once();
  const auto build = [](int variant) {
    GraphMaker m;
    m.input("x");
    if (variant == 3) m.graph.inputs.push_back({"dynamic_scale", DType::kFloat32, {}});
    const std::string scale = "x_dq_scale";
    switch (variant) {
      case 0:  // a zero point that is not 0
        qdq(m, "x", "x_dq", 0.02f, 3);
        break;
      case 1: {  // one scale per channel for X
        m.graph.initializers[scale] = Tensor::from_vector<float>({4}, {0.01f, 0.02f, 0.03f, 0.04f});
        m.graph.initializers["x_dq_zero"] = Tensor(DType::kInt8, {4});
        m.node("QuantizeLinear", {"x", scale, "x_dq_zero"}, "x_q");
        m.node("DequantizeLinear", {"x_q", scale, "x_dq_zero"}, "x_dq");
        break;
      }
      case 2: {  // different scales on the two sides
        qdq(m, "x", "x_dq", 0.02f);
        m.graph.initializers["other_scale"] = Tensor::scalar<float>(0.03f);
        m.graph.nodes.back().inputs[1] = "other_scale";
        break;
      }
      case 3: {  // a scale computed at run time
        m.graph.initializers["x_dq_zero"] = Tensor::scalar<int8_t>(0);
        m.node("QuantizeLinear", {"x", "dynamic_scale", "x_dq_zero"}, "x_q");
        m.node("DequantizeLinear", {"x_q", "dynamic_scale", "x_dq_zero"}, "x_dq");
        break;
      }
    }
    const std::string w = int8_weights(m, "w", {6, 4, 3}, 0, 12);
    conv1d(m, "Conv", {"x_dq", w}, "y", 3, 1, 1, 1);
    m.output("y");
    return std::move(m.graph);
  };
  std::mt19937 rng(4);
  for (int variant = 0; variant < 4; ++variant) {
    Graph graph = build(variant);
    Graph optimized = graph;
    optimize_graph(optimized, GraphUse::kOffline);
    EXPECT_EQ(count_int8(optimized), 0u) << "variant " << variant;
    EXPECT_EQ(count_ops(optimized, "QuantizeLinear"), 1u) << "variant " << variant;
    std::map<std::string, Tensor> inputs = {{"x", random_tensor({1, 4, 20}, rng)}};
    if (variant == 3) inputs["dynamic_scale"] = Tensor::scalar<float>(0.02f);
    expect_same_results(graph, inputs, 1e-5f);
  }
}

TEST(FuseInt8, AQdqValueReadByAConvAndAnotherNodeStaysForTheOther) {
  register_amphora_domain_ops_once();
  GraphMaker m;
  m.input("x");
  qdq(m, "x", "x_dq", 0.02f);
  const std::string w = int8_weights(m, "w", {4, 4, 3}, 0, 12);
  conv1d(m, "Conv", {"x_dq", w}, "c", 3, 1, 1, 1);
  m.node("Relu", {"x_dq"}, "relu");
  m.node("Add", {"c", "relu"}, "y");
  m.output("y");
  Graph optimized = m.graph;
  optimize_graph(optimized, GraphUse::kOffline);
  EXPECT_EQ(count_int8(optimized), 1u);
  EXPECT_EQ(count_ops(optimized, "DequantizeLinear"), 1u);  // for the Relu
  std::mt19937 rng(5);
  expect_same_results(m.graph, {{"x", random_tensor({1, 4, 30}, rng)}}, 1e-4f);
}

// Vocos' pointwise layers quantized: QDQ -> MatMul(int8 [24, 72]) + bias -> GELU -> QDQ ->
// MatMul(int8 [72, 24]) + bias -> layer scale (negative values included).
TEST(FuseInt8, QuantizedLinearGeluAndLayerScaleBecomeTwoInt8MatMuls) {
  register_amphora_domain_ops_once();
  GraphMaker m;
  m.graph.inputs.push_back({"x", DType::kFloat32, {{1, ""}, {-1, "T"}, {24, ""}}});
  const auto constant_node = [&](const std::string& name, float value) {
    m.node("Constant", {}, name).attributes["value"] = Tensor::scalar<float>(value);
  };
  m.graph.initializers["b1"] = random_tensor({72}, m.rng, 0.3f);
  m.graph.initializers["b2"] = random_tensor({24}, m.rng, 0.3f);
  m.graph.initializers["gamma"] = random_tensor({24}, m.rng, 1.0f);
  constant_node("sqrt2", std::sqrt(2.0f));
  constant_node("one", 1.0f);
  constant_node("half", 0.5f);
  qdq(m, "x", "x_dq", 0.05f);
  m.node("MatMul", {"x_dq", int8_weights(m, "w1", {24, 72}, 1, 24)}, "mm1");
  m.node("Add", {"b1", "mm1"}, "h");
  m.node("Div", {"h", "sqrt2"}, "scaled");
  m.node("Erf", {"scaled"}, "erf");
  m.node("Add", {"erf", "one"}, "erf1");
  m.node("Mul", {"h", "erf1"}, "gated");
  m.node("Mul", {"gated", "half"}, "act");
  qdq(m, "act", "act_dq", 0.02f);
  m.node("MatMul", {"act_dq", int8_weights(m, "w2", {72, 24}, 1, 72)}, "mm2");
  m.node("Add", {"mm2", "b2"}, "h2");
  m.node("Mul", {"gamma", "h2"}, "y");
  m.output("y");
  Graph optimized = m.graph;
  optimize_graph(optimized, GraphUse::kOffline);
  ASSERT_EQ(optimized.nodes.size(), 2u);
  EXPECT_EQ(count_int8(optimized), 2u);
  EXPECT_EQ(optimized.nodes[0].get_string("activation", ""), "Gelu");
  EXPECT_EQ(optimized.nodes[1].inputs.size(), 3u);  // the bias, scaled by gamma
  std::mt19937 rng(6);
  // As in the conv test above: a GELU output moved across a rounding boundary of the second
  // QuantizeLinear by float summation order costs one quantum (0.02) times a weight.
  for (int64_t t : {1, 9, 300}) {
    expect_same_results(m.graph, {{"x", random_tensor({1, t, 24}, rng, 2.0f)}}, 1e-2f);
  }
}

// Without calibration: x -> DynamicQuantizeLinear -> DequantizeLinear -> Conv. Offline the conv
// runs int8 with X's range taken per run; the streamer's graph keeps DynamicQuantizeLinear,
// which it refuses (its range spans the whole input).
TEST(FuseInt8, DynamicQuantizationRunsInt8OfflineOnly) {
  register_amphora_domain_ops_once();
  GraphMaker m;
  m.input("x");
  m.node("DynamicQuantizeLinear", {"x"}, "x_q").outputs = {"x_q", "x_scale", "x_zero"};
  m.node("DequantizeLinear", {"x_q", "x_scale", "x_zero"}, "x_dq");
  m.graph.initializers["b"] = random_tensor({6}, m.rng, 0.1f);
  conv1d(m, "Conv", {"x_dq", int8_weights(m, "w", {6, 4, 3}, 0, 12), "b"}, "y", 3, 1, 1, 1);
  m.output("y");
  Graph offline = m.graph;
  optimize_graph(offline, GraphUse::kOffline);
  ASSERT_EQ(offline.nodes.size(), 1u);
  EXPECT_EQ(offline.nodes[0].get_int("x_dynamic", 0), 1);
  Graph streamed = m.graph;
  optimize_graph(streamed, GraphUse::kStreaming);
  EXPECT_EQ(count_ops(streamed, "DynamicQuantizeLinear"), 1u);
  std::mt19937 rng(7);
  expect_same_results(m.graph, {{"x", random_tensor({1, 4, 40}, rng)}}, 1e-4f);
}

}  // namespace
}  // namespace amphora
