#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "graph/onnx_import.hpp"
#include "op_test_util.hpp"
#include "test_graph_builder.hpp"

namespace amphora {
namespace {

using testing::expect_error;
using testing::OnnxModelBuilder;
constexpr int kFloat = onnx::TensorProto::FLOAT;

// x[batch, 3] + bias -> Relu -> LeakyRelu(alpha) -> y, with metadata and a Constant node.
OnnxModelBuilder small_model() {
  OnnxModelBuilder b(17);
  b.input("x", kFloat, {"batch", "3"})
      .initializer("bias", Tensor::from_vector<float>({3}, {1, 2, 3}))
      .add("Add", {"x", "bias"}, {"sum"})
      .add("Relu", {"sum"}, {"relu"});
  auto& leaky = b.node("LeakyRelu", {"relu"}, {"y"});
  auto* alpha = leaky.add_attribute();
  alpha->set_name("alpha");
  alpha->set_type(onnx::AttributeProto::FLOAT);
  alpha->set_f(0.25f);
  auto& constant = b.node("Constant", {}, {"c"});
  auto* value = constant.add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  OnnxModelBuilder::to_proto(Tensor::from_vector<int64_t>({2}, {4, 5}), value->mutable_t(), false);
  b.output("y", kFloat, {"batch", "3"}).output("c", onnx::TensorProto::INT64, {"2"});
  b.metadata("amphora", R"({"schema_version": 1})");
  return b;
}

TEST(OnnxImport, ConvertsGraphInputsOutputsAttributesAndMetadata) {
  Graph g = load_onnx_from_bytes(small_model().bytes(), "small.onnx");
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].name, "x");
  ASSERT_EQ(g.inputs[0].dims.size(), 2u);
  EXPECT_EQ(g.inputs[0].dims[0].symbol, "batch");
  EXPECT_FALSE(g.inputs[0].dims[0].is_fixed());
  EXPECT_EQ(g.inputs[0].dims[1].value, 3);
  ASSERT_EQ(g.outputs.size(), 2u);
  EXPECT_EQ(g.outputs[1].dtype, DType::kInt64);
  EXPECT_EQ(g.opset(), 17);
  EXPECT_EQ(g.opset("ai.onnx"), 17);
  EXPECT_EQ(g.metadata.at("amphora"), R"({"schema_version": 1})");
  EXPECT_EQ(g.producer, "amphora-tests");
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[2].op_type, "LeakyRelu");
  EXPECT_EQ(g.nodes[2].index, 2u);
  EXPECT_FLOAT_EQ(g.nodes[2].get_float("alpha", 0.01f), 0.25f);
  EXPECT_EQ(g.nodes[3].get_tensor("value").to_int64_vector(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(g.initializers.at("bias").to_float_vector(), (std::vector<float>{1, 2, 3}));
  // Shape inference found the intermediate values and kept the symbolic batch dim.
  ASSERT_TRUE(g.value_info.count("sum"));
  EXPECT_EQ(g.value_info.at("sum").dims[0].symbol, "batch");
  EXPECT_EQ(g.value_info.at("sum").dims[1].value, 3);
}

TEST(OnnxImport, ReadsTypedFieldsAsWellAsRawData) {
  OnnxModelBuilder b(17);
  b.input("x", kFloat, {"2"})
      .initializer("w", Tensor::from_vector<float>({2}, {0.5f, -1}), /*raw=*/false)
      .initializer("i", Tensor::from_vector<int64_t>({2}, {7, -8}), false)
      .initializer("m", Tensor::from_vector<bool>({2}, {true, false}), false)
      .initializer("r", Tensor::from_vector<int32_t>({1}, {-3}), true)
      .add("Mul", {"x", "w"}, {"y"})
      .output("y", kFloat, {"2"});
  Graph g = load_onnx_from_bytes(b.bytes());
  EXPECT_EQ(g.initializers.at("w").to_float_vector(), (std::vector<float>{0.5f, -1}));
  EXPECT_EQ(g.initializers.at("i").to_int64_vector(), (std::vector<int64_t>{7, -8}));
  EXPECT_EQ(g.initializers.at("m").dtype(), DType::kBool);
  EXPECT_EQ(g.initializers.at("m").to_int64_vector(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(g.initializers.at("r").to_int64_vector(), (std::vector<int64_t>{-3}));
}

TEST(OnnxImport, InitializersListedAsInputsAreNotGraphInputs) {
  OnnxModelBuilder b = small_model();
  b.input("bias", kFloat, {"3"});  // IR < 4 style
  Graph g = load_onnx_from_bytes(b.bytes());
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].name, "x");
}

TEST(OnnxImport, TruncatedAndCorruptBytesAreInvalidModelsNamingTheSource) {
  std::string good = small_model().bytes();
  expect_error([&] { load_onnx_from_bytes(good.substr(0, good.size() / 2), "half.onnx"); },
               ErrorCode::kInvalidModel, "half.onnx");
  expect_error([] { load_onnx_from_bytes("", "empty.onnx"); }, ErrorCode::kInvalidModel,
               "empty.onnx");
  expect_error([] { load_onnx_from_bytes(std::string(100, '\xff'), "junk.onnx"); },
               ErrorCode::kInvalidModel, "junk.onnx");
}

TEST(OnnxImport, CheckerFailuresCarryTheCheckersMessage) {
  OnnxModelBuilder b(17);
  b.input("x", kFloat, {"2"}).add("Relu", {"undefined_value"}, {"y"}).output("y", kFloat, {"2"});
  expect_error([&] { load_onnx_from_bytes(b.bytes(), "bad.onnx"); }, ErrorCode::kInvalidModel,
               "undefined_value");
  OnnxModelBuilder unknown(17);
  unknown.input("x", kFloat, {"2"}).add("NoSuchOp", {"x"}, {"y"}).output("y", kFloat, {"2"});
  expect_error([&] { load_onnx_from_bytes(unknown.bytes(), "bad.onnx"); }, ErrorCode::kInvalidModel,
               "checker");
}

TEST(OnnxImport, ExternalDataIsUnsupported) {
  OnnxModelBuilder b = small_model();
  auto* init = b.proto().mutable_graph()->mutable_initializer(0);
  init->clear_raw_data();
  init->set_data_location(onnx::TensorProto::EXTERNAL);
  auto* location = init->add_external_data();
  location->set_key("location");
  location->set_value("weights.bin");
  expect_error([&] { load_onnx_from_bytes(b.bytes(), "ext.onnx"); }, ErrorCode::kUnsupported,
               "external");
}

TEST(OnnxImport, InitializerProblemsNameTheInitializer) {
  OnnxModelBuilder b = small_model();
  auto* init = b.proto().mutable_graph()->mutable_initializer(0);
  init->set_raw_data(std::string(8, '\0'));  // 3 floats need 12 bytes
  expect_error([&] { load_onnx_from_bytes(b.bytes(), "m.onnx"); }, ErrorCode::kInvalidModel,
               "initializer 'bias': raw_data has 8 bytes");
  init->set_data_type(onnx::TensorProto::FLOAT16);  // read, widened to float32
  init->set_raw_data(std::string(4, '\0'));
  expect_error([&] { load_onnx_from_bytes(b.bytes(), "m.onnx"); }, ErrorCode::kInvalidModel,
               "initializer 'bias': raw_data has 4 bytes but shape [3] of float16 needs 6");
  init->set_data_type(onnx::TensorProto::BFLOAT16);
  init->set_raw_data(std::string(6, '\0'));
  expect_error([&] { load_onnx_from_bytes(b.bytes(), "m.onnx"); }, ErrorCode::kUnsupported,
               "initializer 'bias'");
}

TEST(OnnxImport, SubgraphAttributesAreUnsupportedNamingTheNode) {
  OnnxModelBuilder b(17);
  b.input("cond", onnx::TensorProto::BOOL, {});
  auto& node = b.node("If", {"cond"}, {"y"});
  node.set_name("branch");
  for (const char* name : {"then_branch", "else_branch"}) {
    auto* attr = node.add_attribute();
    attr->set_name(name);
    attr->set_type(onnx::AttributeProto::GRAPH);
    auto* sub = attr->mutable_g();
    sub->set_name(name);
    auto* c = sub->add_node();
    c->set_op_type("Constant");
    c->add_output(std::string(name) + "_out");
    auto* v = c->add_attribute();
    v->set_name("value");
    v->set_type(onnx::AttributeProto::TENSOR);
    OnnxModelBuilder::to_proto(Tensor::from_vector<float>({1}, {1}), v->mutable_t(), true);
    auto* out = sub->add_output();
    out->set_name(std::string(name) + "_out");
    auto* tt = out->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(kFloat);
    tt->mutable_shape()->add_dim()->set_dim_value(1);
  }
  b.output("y", kFloat, {"1"});
  expect_error([&] { load_onnx_from_bytes(b.bytes(), "if.onnx"); }, ErrorCode::kUnsupported,
               "If 'branch'");
}

TEST(OnnxImport, FilesAndTensorProtos) {
  auto dir = testing::temp_dir("amphora_onnx_");
  std::string model_path = (dir / "m.onnx").string();
  small_model().save(model_path);
  Graph from_file = load_onnx(model_path);  // parsed from the descriptor, not from bytes
  EXPECT_EQ(from_file.nodes.size(), 4u);
  EXPECT_EQ(from_file.initializers.at("bias").to_float_vector(), (std::vector<float>{1, 2, 3}));
  expect_error([&] { load_onnx((dir / "missing.onnx").string()); }, ErrorCode::kIo, "missing.onnx");
  expect_error([&] { load_onnx(dir.string()); }, ErrorCode::kIo, "is a directory");
  std::string bytes = small_model().bytes();
  std::ofstream(dir / "cut.onnx", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  expect_error([&] { load_onnx((dir / "cut.onnx").string()); }, ErrorCode::kInvalidModel,
               "cut.onnx");
  std::ofstream(dir / "empty.onnx", std::ios::binary).flush();
  expect_error([&] { load_onnx((dir / "empty.onnx").string()); }, ErrorCode::kInvalidModel,
               "empty file");

  onnx::TensorProto proto;
  OnnxModelBuilder::to_proto(Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}), &proto, false);
  std::string tensor_path = (dir / "input_0.pb").string();
  std::ofstream(tensor_path, std::ios::binary) << proto.SerializeAsString();
  Tensor t = load_onnx_tensor(tensor_path);
  EXPECT_EQ(t.shape(), (Shape{2, 2}));
  EXPECT_EQ(t.to_float_vector(), (std::vector<float>{1, 2, 3, 4}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace amphora

namespace amphora {
namespace {

// A deterministic miniature of tests/fuzz/fuzz_onnx_loader: truncations and byte flips of a
// valid model load or fail with amphora::Error, never with anything else.
TEST(OnnxImport, TruncationsAndByteFlipsFailCleanly) {
  std::string good = small_model().bytes();
  for (size_t size = 0; size < good.size(); size += 3) {
    try {
      load_onnx_from_bytes(good.substr(0, size), "cut.onnx");
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.onnx"), std::string::npos) << e.what();
    }
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bytes = good;
    bytes[i] = static_cast<char>(bytes[i] ^ 0x5a);
    try {
      load_onnx_from_bytes(bytes, "flip.onnx");
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace amphora

namespace amphora {
namespace {

// Found by fuzz_onnx_loader: libonnx 1.12's Conv shape inference dereferences null when W's
// rank differs from X's and kernel_shape is absent. The guarded registry turns it into a
// shape-inference failure; the model then loads with no inferred shape for 'y'.
TEST(OnnxImport, ConvRankMismatchDoesNotCrashShapeInference) {
  for (const char* op : {"Conv", "ConvTranspose"}) {
    OnnxModelBuilder b(11);
    b.input("x", kFloat, {"1", "5"})
        .input("W", kFloat, {"1", "1", "3"})
        .add(op, {"x", "W"}, {"y"})
        .output("y", kFloat, {"?", "?", "?"});
    Graph g = load_onnx_from_bytes(b.bytes(), "conv.onnx");
    EXPECT_EQ(g.nodes.size(), 1u);
    ASSERT_EQ(g.outputs[0].dims.size(), 3u) << op;
    EXPECT_FALSE(g.outputs[0].dims[2].is_fixed()) << op;  // nothing was inferred
  }
  // Also found by the fuzzer: a zero stride made 1.12's Conv/pool shape inference divide by 0.
  for (const char* op : {"Conv", "MaxPool"}) {
    OnnxModelBuilder b(11);
    b.input("x", kFloat, {"1", "1", "7", "5"}).input("W", kFloat, {"1", "1", "3", "3"});
    auto& node = b.node(op, {"x", "W"}, {"y"});
    if (std::string(op) == "MaxPool") node.mutable_input()->RemoveLast();
    for (const auto& [name, values] : std::vector<std::pair<std::string, std::vector<int64_t>>>{
             {"kernel_shape", {3, 3}}, {"strides", {2, 0}}}) {
      auto* attr = node.add_attribute();
      attr->set_name(name);
      attr->set_type(onnx::AttributeProto::INTS);
      for (int64_t v : values) attr->add_ints(v);
    }
    b.output("y", kFloat, {"?", "?", "?", "?"});
    try {
      Graph g = load_onnx_from_bytes(b.bytes(), "stride.onnx");
      EXPECT_FALSE(g.outputs[0].dims[3].is_fixed()) << op;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    }
  }
}

}  // namespace
}  // namespace amphora
