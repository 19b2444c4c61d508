// The QDQ form `amphora quantize --int8` writes (pipeline/qdq_graph.hpp): which nodes are
// quantized, per-channel weight scales, and that the graph computes conv(dequantized x,
// dequantized W) -- checked against the float graph within the quantization error.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pipeline/qdq_graph.hpp"
#include "runtime/session.hpp"

namespace amphora {
namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  Tensor t(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = normal(rng);
  return t;
}

Node node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
          std::string output) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  return n;
}

// x [1, 4, T] -> Conv(k 3, pad 1) -> LeakyRelu -> grouped Conv -> Transpose -> MatMul [6, 5].
Graph small_model() {
  Graph g;
  g.opset_imports[""] = 17;
  g.inputs.push_back({"x", DType::kFloat32, {Dim{1, ""}, Dim{4, ""}, Dim{-1, "T"}}});
  g.outputs.push_back({"y", DType::kFloat32, {}, false});
  // Channel 1 of the conv is ten times larger: one scale per channel keeps channel 0 precise.
  Tensor w = random_tensor({6, 4, 3}, 1);
  for (int64_t i = 12; i < 24; ++i) w.data<float>()[i] *= 10.0f;
  g.initializers["w"] = w;
  g.initializers["b"] = random_tensor({6}, 2);
  g.initializers["dw"] = random_tensor({6, 1, 3}, 3);
  g.initializers["m"] = random_tensor({6, 5}, 4);
  Node conv = node("Conv", "conv", {"x", "w", "b"}, "c");
  conv.attributes["pads"] = std::vector<int64_t>{1, 1};
  Node depthwise = node("Conv", "depthwise", {"a", "dw"}, "d");
  depthwise.attributes["group"] = int64_t{6};
  depthwise.attributes["pads"] = std::vector<int64_t>{1, 1};
  Node transpose = node("Transpose", "transpose", {"d"}, "t");
  transpose.attributes["perm"] = std::vector<int64_t>{0, 2, 1};
  g.nodes = {conv, node("LeakyRelu", "act", {"c"}, "a"), depthwise, transpose,
             node("MatMul", "matmul", {"t", "m"}, "y")};
  for (size_t i = 0; i < g.nodes.size(); ++i) g.nodes[i].index = i;
  return g;
}

Tensor run(const Graph& g, const Tensor& x) {
  SessionOptions options;
  options.optimize = false;  // the reference QuantizeLinear/DequantizeLinear kernels
  Session session(g, options);
  return session.run({{"x", x}}).at("y");
}

TEST(QdqGraph, QuantizesDenseConvsAndMatMulsButNotGroupedConvs) {
  const Graph g = small_model();
  EXPECT_EQ(quantizable_nodes(g), (std::vector<size_t>{0, 4}));
}

TEST(QdqGraph, WeightsHaveOneScalePerOutputChannel) {
  const Graph g = small_model();
  const QdqBuilder builder(g);
  const Graph q = builder.build({0, 4}, nullptr);
  const Tensor& scales = q.initializers.at("w_scale");
  ASSERT_EQ(scales.shape(), (Shape{6}));
  // Channel 1's weights are ten times larger, so is its scale (per channel, not per tensor).
  EXPECT_GT(scales.data<float>()[1], 5.0f * scales.data<float>()[0]);
  EXPECT_EQ(q.initializers.at("w_int8").dtype(), DType::kInt8);
  EXPECT_EQ(q.initializers.at("m_scale").shape(), (Shape{5}));  // MatMul: axis 1 of [K, N]
  EXPECT_FALSE(q.initializers.count("w"));                      // the float weight is gone
  EXPECT_TRUE(q.initializers.count("dw"));                      // the grouped conv's stays
  // Rounding to the nearest step: no weight moves by more than half its channel's scale.
  float largest_scale = 0;
  for (int64_t c = 0; c < 6; ++c) largest_scale = std::max(largest_scale, scales.data<float>()[c]);
  EXPECT_LE(builder.weight_error(0), 0.5f * largest_scale + 1e-7f);
  EXPECT_GT(builder.weight_error(0), 0.0f);
}

TEST(QdqGraph, StaticGraphComputesTheFloatModelWithinTheQuantizationError) {
  const Graph g = small_model();
  const Tensor x = random_tensor({1, 4, 40}, 5);
  float max_x = 0;
  for (int64_t i = 0; i < x.numel(); ++i) max_x = std::max(max_x, std::fabs(x.data<float>()[i]));
  // Ranges from the float run: the conv reads x, the MatMul reads t.
  Graph probe = g;
  probe.outputs.push_back({"t", DType::kFloat32, {}, false});
  SessionOptions options;
  options.optimize = false;
  const Tensor t = Session(probe, options).run({{"x", x}}).at("t");
  float max_t = 0;
  for (int64_t i = 0; i < t.numel(); ++i) max_t = std::max(max_t, std::fabs(t.data<float>()[i]));
  const std::map<std::string, float> ranges = {{"x", max_x}, {"t", max_t}};

  const QdqBuilder builder(g);
  const Graph q = builder.build({0, 4}, &ranges);
  size_t quantize = 0, dequantize = 0;
  for (const Node& n : q.nodes) {
    quantize += n.op_type == "QuantizeLinear";
    dequantize += n.op_type == "DequantizeLinear";
  }
  EXPECT_EQ(quantize, 2u);
  EXPECT_EQ(dequantize, 4u);
  const Tensor want = run(g, x), have = run(q, x);
  ASSERT_EQ(have.shape(), want.shape());
  double error = 0, magnitude = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    error = std::max(error, double(std::fabs(have.data<float>()[i] - want.data<float>()[i])));
    magnitude = std::max(magnitude, double(std::fabs(want.data<float>()[i])));
  }
  EXPECT_GT(error, 0.0);               // really quantized
  EXPECT_LT(error, 0.05 * magnitude);  // 8 bits: within a few percent of the output's range
  // Only the MatMul quantized: a different, smaller error.
  const Tensor one = run(builder.build({4}, &ranges), x);
  double error_one = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    error_one =
        std::max(error_one, double(std::fabs(one.data<float>()[i] - want.data<float>()[i])));
  }
  EXPECT_GT(error_one, 0.0);
  EXPECT_NE(error_one, error);
}

TEST(QdqGraph, DynamicGraphQuantizesEachRunsOwnRange) {
  const Graph g = small_model();
  const Graph q = QdqBuilder(g).build({0, 4}, nullptr);
  size_t dynamic = 0;
  for (const Node& n : q.nodes) dynamic += n.op_type == "DynamicQuantizeLinear";
  EXPECT_EQ(dynamic, 2u);
  const Tensor x = random_tensor({1, 4, 30}, 6);
  const Tensor want = run(g, x), have = run(q, x);
  double error = 0, magnitude = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    error = std::max(error, double(std::fabs(have.data<float>()[i] - want.data<float>()[i])));
    magnitude = std::max(magnitude, double(std::fabs(want.data<float>()[i])));
  }
  EXPECT_GT(error, 0.0);
  EXPECT_LT(error, 0.05 * magnitude);
}

}  // namespace
}  // namespace amphora
