// The public API (include/amphora/amphora.hpp) as an application would use it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "amphora/amphora.hpp"
#include "test_graph_builder.hpp"

namespace amphora {
namespace {

testing::OnnxModelBuilder add_model() {
  testing::OnnxModelBuilder b(17);
  b.input("mel", onnx::TensorProto::FLOAT, {"batch", "2", "frames"})
      .input("mask", onnx::TensorProto::BOOL, {"?"})
      .initializer("bias", Tensor::from_vector<float>({1, 2, 1}, {10, 20}))
      .add("Add", {"mel", "bias"}, {"audio"})
      .output("audio", onnx::TensorProto::FLOAT, {"batch", "2", "frames"})
      .output("mask_out", onnx::TensorProto::BOOL, {"?"})
      .metadata("amphora", R"({"family": "melgan"})");
  b.add("Identity", {"mask"}, {"mask_out"});
  return b;
}

TEST(Model, DescribesInputsOutputsMetadataAndOpset) {
  Model model = Model::load_from_bytes(add_model().bytes());
  ASSERT_EQ(model.inputs().size(), 2u);
  EXPECT_EQ(model.inputs()[0].to_string(), "mel: float32 [batch, 2, frames]");
  EXPECT_EQ(model.inputs()[0].dims[1].size, 2);
  EXPECT_EQ(model.inputs()[0].dims[2].symbol, "frames");
  EXPECT_EQ(model.inputs()[1].to_string(), "mask: bool [?]");
  EXPECT_EQ(model.outputs()[0].name, "audio");
  EXPECT_EQ(model.metadata().at("amphora"), R"({"family": "melgan"})");
  EXPECT_EQ(model.opset(), 17);
}

TEST(Model, RunsOnNamedTensors) {
  Model model = Model::load_from_bytes(add_model().bytes(), Options{1, true});
  auto out = model.run({{"mel", Tensor::from_vector<float>({1, 2, 2}, {1, 2, 3, 4})},
                        {"mask", Tensor::from_vector<bool>({2}, {true, false})}});
  EXPECT_EQ(out.at("audio").to_float_vector(), (std::vector<float>{11, 12, 23, 24}));
  EXPECT_EQ(out.at("mask_out").to_int64_vector(), (std::vector<int64_t>{1, 0}));
  try {
    model.run({{"mel", Tensor(DType::kFloat32, {1, 3, 2})}, {"mask", Tensor(DType::kBool, {1})}});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("input 'mel'"), std::string::npos) << e.what();
  }
}

TEST(Model, ReportsProgressAfterEveryNode) {
  Model model = Model::load_from_bytes(add_model().bytes());
  std::vector<std::pair<size_t, size_t>> calls;
  model.run({{"mel", Tensor(DType::kFloat32, {1, 2, 3})}, {"mask", Tensor(DType::kBool, {1})}},
            [&](size_t done, size_t total) { calls.emplace_back(done, total); });
  ASSERT_EQ(calls.size(), 2u);  // Add, Identity
  EXPECT_EQ(calls[0], (std::pair<size_t, size_t>{1, 2}));
  EXPECT_EQ(calls[1], (std::pair<size_t, size_t>{2, 2}));
}

TEST(Model, LoadsAPackageDirectoryAndFailsClearlyWithoutModel) {
  auto dir = std::filesystem::temp_directory_path() / ("amphora_model_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  add_model().save((dir / "model.onnx").string());
  EXPECT_EQ(Model::load(dir.string()).outputs().size(), 2u);
  std::filesystem::remove(dir / "model.onnx");
  try {
    Model::load(dir.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("model.onnx"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(Model, UnsupportedOpsFailAtLoad) {
  testing::OnnxModelBuilder b(17);
  b.opset("com.example", 1)
      .input("x", onnx::TensorProto::FLOAT, {"2"})
      .add("Mystery", {"x"}, {"y"}, "com.example")
      .output("y", onnx::TensorProto::FLOAT, {"2"});
  try {
    Model::load_from_bytes(b.bytes());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("Mystery"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("com.example"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace amphora
