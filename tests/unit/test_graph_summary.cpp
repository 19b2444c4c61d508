#include <gtest/gtest.h>

#include "graph/summary.hpp"

namespace amphora {
namespace {

TEST(GraphSummary, CountsOpsAndParametersFromInitializersAndConstants) {
  Graph g;
  auto node = [&](const std::string& op, const std::string& domain = "") {
    Node n;
    n.op_type = op;
    n.domain = domain;
    n.index = g.nodes.size();
    g.nodes.push_back(n);
    return &g.nodes.back();
  };
  node("Conv");
  node("LeakyRelu");
  node("Conv");
  node("Snake", "com.example");
  node("Constant")->attributes["value"] = Tensor(DType::kFloat32, {3, 2});
  g.initializers["w"] = Tensor(DType::kFloat32, {4, 5});
  g.initializers["steps"] = Tensor(DType::kInt64, {2});
  GraphSummary s = summarize(g);
  EXPECT_EQ(s.node_count, 5u);
  ASSERT_EQ(s.ops.size(), 4u);
  EXPECT_EQ(s.ops[0].op_type, "Conv");
  EXPECT_EQ(s.ops[0].count, 2);
  EXPECT_EQ(s.parameters, 6 + 20 + 2);
  EXPECT_EQ(s.parameter_bytes, 6 * 4 + 20 * 4 + 2 * 8);
  EXPECT_EQ(s.initializer_count, 2u);
}

TEST(GraphSummary, DimsToString) {
  ValueInfo v{"mel", DType::kFloat32, {{-1, "batch"}, {80, ""}, {-1, ""}}, true};
  EXPECT_EQ(dims_to_string(v), "[batch, 80, ?]");
  v.rank_known = false;
  EXPECT_EQ(dims_to_string(v), "[?]");
}

}  // namespace
}  // namespace amphora
