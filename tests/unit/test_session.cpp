#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "graph/onnx_import.hpp"
#include "runtime/session.hpp"
#include "test_graph_builder.hpp"

namespace amphora {
namespace {

constexpr const char* kTestDomain = "amphora.test";
int g_scale_runs = 0;

// Test-only kernels in a private domain, so these tests do not depend on which ONNX ops the
// op-family files register. Scale: y = x * attr "factor". Plus: y = a + b (same shape), with
// an optional third input that is added when present. Fail: always throws without naming the
// node. TwoOut: returns only its first output.
void register_test_kernels() {
  static bool done = [] {
    auto& r = OpRegistry::instance();
    r.add(kTestDomain, "Scale", 1, [](const Node& node, int64_t, const KernelOptions&) {
      float factor = node.get_float("factor", 1.0f);
      return std::make_unique<FunctionKernel>([factor](const std::vector<const Tensor*>& in) {
        ++g_scale_runs;
        Tensor out = in[0]->clone();
        float* p = out.data<float>();
        for (int64_t i = 0; i < out.numel(); ++i) p[i] *= factor;
        return std::vector<Tensor>{out};
      });
    });
    r.add(kTestDomain, "Plus", 1, [](const Node& node, int64_t, const KernelOptions&) {
      return std::make_unique<FunctionKernel>([node](const std::vector<const Tensor*>& in) {
        check_input_count(node, in, 2, 3);
        Tensor out = in[0]->clone();
        float* p = out.data<float>();
        for (int64_t i = 0; i < out.numel(); ++i) {
          p[i] += in[1]->data<float>()[i] + (in.size() > 2 && in[2] ? in[2]->data<float>()[i] : 0);
        }
        return std::vector<Tensor>{out};
      });
    });
    r.add(kTestDomain, "Fail", 1, [](const Node&, int64_t, const KernelOptions&) {
      return std::make_unique<FunctionKernel>([](const std::vector<const Tensor*>&) {
        fail(ErrorCode::kOutOfRange, "cannot allocate 10 GB");
        return std::vector<Tensor>{};
      });
    });
    r.add(kTestDomain, "TwoOut", 1, [](const Node&, int64_t, const KernelOptions&) {
      return std::make_unique<FunctionKernel>(
          [](const std::vector<const Tensor*>& in) { return std::vector<Tensor>{in[0]->clone()}; });
    });
    return true;
  }();
  (void)done;
}

Node make_node(const std::string& op, std::vector<std::string> inputs,
               std::vector<std::string> outputs, size_t index) {
  Node n;
  n.op_type = op;
  n.domain = kTestDomain;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.index = index;
  n.name = op + std::to_string(index);
  return n;
}

ValueInfo info(const std::string& name, std::vector<Dim> dims, DType dtype = DType::kFloat32) {
  return ValueInfo{name, dtype, std::move(dims), true};
}

// y = (a * 2) + b + bias, with a, b: [batch, T], bias an initializer [1, 3]-shaped per test.
Graph chain_graph() {
  Graph g;
  g.opset_imports[""] = 17;
  g.opset_imports[kTestDomain] = 1;
  g.inputs = {info("a", {{-1, "batch"}, {-1, "T"}}), info("b", {{-1, "batch"}, {-1, "T"}})};
  g.outputs = {info("y", {{-1, "batch"}, {-1, "T"}})};
  Node scale = make_node("Scale", {"a"}, {"scaled"}, 0);
  scale.attributes["factor"] = 2.0f;
  g.nodes = {scale, make_node("Plus", {"scaled", "b"}, {"y"}, 1)};
  return g;
}

template <typename Fn>
void expect_error(Fn fn, ErrorCode code, const std::vector<std::string>& needles) {
  try {
    fn();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const auto& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "'" << needle << "' not in: " << e.what();
    }
  }
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { register_test_kernels(); }
};

TEST_F(SessionTest, RunsNodesInOrderAndReturnsOutputs) {
  Session session(chain_graph());
  auto out = session.run({{"a", Tensor::from_vector<float>({1, 3}, {1, 2, 3})},
                          {"b", Tensor::from_vector<float>({1, 3}, {10, 20, 30})}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out.at("y").shape(), (Shape{1, 3}));
  EXPECT_EQ(out.at("y").to_float_vector(), (std::vector<float>{12, 24, 36}));
}

TEST_F(SessionTest, NaNInputsPropagate) {
  Session session(chain_graph());
  float nan = std::nanf("");
  auto out = session.run({{"a", Tensor::from_vector<float>({1, 2}, {nan, 1})},
                          {"b", Tensor::from_vector<float>({1, 2}, {0, 0})}});
  auto y = out.at("y").to_float_vector();
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 2);
}

TEST_F(SessionTest, InitializersAndOptionalInputs) {
  Graph g = chain_graph();
  g.initializers["bias"] = Tensor::from_vector<float>({1, 2}, {100, 200});
  // Plus with an absent optional 3rd input (empty name), then Plus with the initializer.
  g.nodes[1].inputs.push_back("");
  g.nodes[1].outputs = {"partial"};
  g.nodes.push_back(make_node("Plus", {"partial", "b", "bias"}, {"y"}, 2));
  Session session(g);
  auto out = session.run({{"a", Tensor::from_vector<float>({1, 2}, {1, 2})},
                          {"b", Tensor::from_vector<float>({1, 2}, {1, 1})}});
  EXPECT_EQ(out.at("y").to_float_vector(), (std::vector<float>{104, 206}));
}

TEST_F(SessionTest, InputValidationNamesTheInputAndShape) {
  Session session(chain_graph());
  Tensor ok = Tensor::from_vector<float>({1, 3}, {1, 2, 3});
  expect_error(
      [&] {
        session.run({{"a", ok}});
      },
      ErrorCode::kInvalidArgument, {"missing input 'b'", "'a', 'b'"});
  expect_error(
      [&] {
        session.run({{"a", ok}, {"b", ok}, {"c", ok}});
      },
      ErrorCode::kInvalidArgument, {"unknown input 'c'", "[1, 3]"});
  expect_error([&] { session.run({{"a", ok}, {"B", ok}}); }, ErrorCode::kInvalidArgument, {"'b'"});
  expect_error(
      [&] {
        session.run({{"a", ok}, {"b", Tensor::from_vector<int64_t>({1, 3}, {1, 2, 3})}});
      },
      ErrorCode::kInvalidArgument, {"input 'b'", "int64", "float32"});
  expect_error(
      [&] {
        session.run({{"a", ok}, {"b", Tensor::from_vector<float>({3}, {1, 2, 3})}});
      },
      ErrorCode::kInvalidArgument, {"input 'b'", "[3]", "rank 2"});
  // Both inputs share the symbol T: 3 for 'a' but 2 for 'b'.
  expect_error(
      [&] {
        session.run({{"a", ok}, {"b", Tensor::from_vector<float>({1, 2}, {1, 2})}});
      },
      ErrorCode::kInvalidArgument, {"input 'b'", "[1, 2]", "'T'", "input 'a' dim 1"});
  expect_error(
      [&] {
        session.run({{"a", ok}, {"b", Tensor()}});
      },
      ErrorCode::kInvalidArgument, {"input 'b'"});
}

TEST_F(SessionTest, FixedDimsAreChecked) {
  Graph g = chain_graph();
  g.inputs[0].dims[0] = Dim{1, ""};
  Session session(g);
  Tensor two_rows = Tensor::from_vector<float>({2, 1}, {1, 2});
  expect_error(
      [&] {
        session.run({{"a", two_rows}, {"b", two_rows}});
      },
      ErrorCode::kInvalidArgument, {"input 'a'", "[2, 1]", "[1, T]"});
}

TEST_F(SessionTest, UnsupportedOpFailsAtLoadNamingOpDomainOpsetAndNode) {
  Graph g = chain_graph();
  g.nodes[1].op_type = "Frobnicate";
  g.nodes[1].name = "the_node";
  expect_error([&] { Session s(g); }, ErrorCode::kUnsupported,
               {"Frobnicate", "amphora.test", "opset 1", "the_node"});
}

TEST_F(SessionTest, GraphsThatAreNotTopologicallySortedAreRejected) {
  Graph g = chain_graph();
  std::swap(g.nodes[0], g.nodes[1]);
  expect_error([&] { Session s(g); }, ErrorCode::kInvalidModel, {"'scaled'"});
}

TEST_F(SessionTest, PlansAreCachedPerInputShapes) {
  Session session(chain_graph());
  auto run = [&](int64_t frames) {
    Tensor t(DType::kFloat32, {1, frames});
    session.run({{"a", t}, {"b", t}});
  };
  run(5);
  run(5);
  EXPECT_EQ(session.cached_plan_count(), 1u);
  run(7);
  EXPECT_EQ(session.cached_plan_count(), 2u);
  auto symbols = session.resolve_symbols({{"a", {2, 9}}, {"b", {2, 9}}});
  EXPECT_EQ(symbols.at("T"), 9);
  EXPECT_EQ(symbols.at("batch"), 2);
}

TEST_F(SessionTest, AbsurdSizesKnownFromShapesAreRefusedBeforeRunning) {
  Graph g = chain_graph();
  // The model declares scaled as [batch, T, 100000]: T = 10^6 frames would need 10^11 elements.
  g.value_info["scaled"] = info("scaled", {{-1, "batch"}, {-1, "T"}, {100000, ""}});
  Session session(g);
  Tensor t(DType::kFloat32, {1, 1000000});
  g_scale_runs = 0;
  expect_error(
      [&] {
        session.run({{"a", t}, {"b", t}});
      },
      ErrorCode::kOutOfRange, {"'scaled'", "[1, 1000000, 100000]", "T = 1000000"});
  EXPECT_EQ(g_scale_runs, 0);
}

TEST_F(SessionTest, KernelErrorsNameTheNode) {
  Graph g = chain_graph();
  g.nodes[1] = make_node("Fail", {"scaled"}, {"y"}, 1);
  Session session(g);
  Tensor t(DType::kFloat32, {1, 2});
  expect_error(
      [&] {
        session.run({{"a", t}, {"b", t}});
      },
      ErrorCode::kOutOfRange, {"Fail 'Fail1'", "10 GB"});
}

TEST_F(SessionTest, UnneededOutputsMayBeMissingButNeededOnesMayNot) {
  Graph g = chain_graph();
  g.nodes[0].outputs.push_back("unused_mask");
  g.nodes.insert(g.nodes.begin(), make_node("TwoOut", {"a"}, {"a_copy", "mask"}, 0));
  g.nodes[1].inputs = {"a_copy"};
  g.nodes[1].index = 1;
  g.nodes[2].index = 2;
  Tensor t = Tensor::from_vector<float>({1, 1}, {1});
  EXPECT_EQ(Session(g).run({{"a", t}, {"b", t}}).at("y").to_float_vector()[0], 3);
  g.outputs.push_back(info("mask", {}));
  Session needs_mask(g);
  expect_error(
      [&] {
        needs_mask.run({{"a", t}, {"b", t}});
      },
      ErrorCode::kInternal, {"TwoOut", "'mask'"});
}

TEST_F(SessionTest, ThreadCountIsApplied) {
  SessionOptions options;
  options.threads = 2;
  Session session(chain_graph(), options);
  Tensor t(DType::kFloat32, {1, 1});
  omp_set_num_threads(1);
  session.run({{"a", t}, {"b", t}});
  EXPECT_EQ(omp_get_max_threads(), 2);
}

TEST_F(SessionTest, GraphInputsCanBeOutputsDirectly) {
  Graph g = chain_graph();
  g.outputs.push_back(g.inputs[0]);
  Session session(g);
  Tensor a = Tensor::from_vector<float>({1, 1}, {4});
  auto out = session.run({{"a", a}, {"b", a}});
  EXPECT_EQ(out.at("a").to_float_vector()[0], 4);
  EXPECT_EQ(out.at("y").to_float_vector()[0], 12);
}

TEST_F(SessionTest, NodeIndicesNeedNotMatchPositions) {
  Graph g = chain_graph();  // a pass may reorder or insert nodes without renumbering them
  for (Node& n : g.nodes) n.index = 7;
  Session session(g);
  Tensor t = Tensor::from_vector<float>({1, 1}, {1});
  EXPECT_EQ(session.run({{"a", t}, {"b", t}}).at("y").to_float_vector()[0], 3);
}

TEST_F(SessionTest, IntermediatesAreFreedAfterTheirLastUse) {
  // a -> Scale x 10 -> y: at most the input, one node's input and its output are alive.
  Graph g = chain_graph();
  g.inputs.pop_back();
  g.nodes.clear();
  std::string previous = "a";
  for (size_t i = 0; i < 10; ++i) {
    std::string next = i == 9 ? "y" : "v" + std::to_string(i);
    g.nodes.push_back(make_node("Scale", {previous}, {next}, i));
    previous = next;
  }
  Session session(g);
  Tensor a(DType::kFloat32, {1, 1000});
  session.run({{"a", a}});
  Session::RunStats stats = session.last_run_stats();
  EXPECT_LE(stats.peak_live_values, 3u);
  EXPECT_LE(stats.peak_live_bytes, 3 * a.nbytes());
  EXPECT_GE(stats.peak_live_bytes, 2 * a.nbytes());
}

// With real ONNX ops from the registered op families.
TEST_F(SessionTest, RunsAnImportedOnnxModel) {
  testing::OnnxModelBuilder b(17);
  b.input("x", onnx::TensorProto::FLOAT, {"batch", "3"})
      .initializer("bias", Tensor::from_vector<float>({3}, {1, -10, 0}))
      .add("Add", {"x", "bias"}, {"sum"})
      .add("Relu", {"sum"}, {"y"})
      .output("y", onnx::TensorProto::FLOAT, {"batch", "3"});
  Session session(load_onnx_from_bytes(b.bytes()));
  auto out = session.run({{"x", Tensor::from_vector<float>({2, 3}, {1, 2, 3, -4, 5, 6})}});
  EXPECT_EQ(out.at("y").to_float_vector(), (std::vector<float>{2, 0, 3, 0, 0, 6}));
}

}  // namespace
}  // namespace amphora
