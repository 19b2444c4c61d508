// AcousticModel on an SVC package: convert() feeds each input where the manifest says, and
// refuses bad input naming it. The package is a stand-in built here (no Python): a graph whose
// "audio" is a known sum of every input, with hop 1, and the manifest an SVC export writes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include "amphora/acoustic.hpp"
#include "test_graph_builder.hpp"

namespace amphora {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSvcManifest = R"({
  "schema_version": 1, "kind": "acoustic", "family": "vits_svc", "task": "svc",
  "produces": "waveform", "sample_rate": 16000, "hop_length": 1, "mel": null, "phones": null,
  "content": {"min_frames": 1, "features": [
    {"name": "whisper", "input": "whisper_feat", "dim": 3}]},
  "f0": {"input": "f0", "unit": "Hz"},
  "energy": {"input": "energy"},
  "speakers": {"count": 4, "input": "speaker_id", "names": null}
})";

// The same graph described as a TTS package: convert() must refuse it.
constexpr const char* kTtsManifest = R"({
  "kind": "acoustic", "family": "vits", "task": "tts", "produces": "waveform",
  "sample_rate": 16000, "hop_length": 1, "phones": {"count": 10},
  "speakers": {"count": 1}
})";

void int_attribute(onnx::NodeProto& node, const char* name, int64_t value) {
  auto* attribute = node.add_attribute();
  attribute->set_name(name);
  attribute->set_type(onnx::AttributeProto::INT);
  attribute->set_i(value);
}

// audio[0, 0, t] = sum(whisper_feat[t, :]) + f0[t] + 10 energy[t] + 100 speaker
//                  + 1000 seed noise_scale; audio_lengths = frame_lengths.
testing::OnnxModelBuilder svc_graph() {
  testing::OnnxModelBuilder b(17);
  b.input("whisper_feat", onnx::TensorProto::FLOAT, {"batch", "frames", "3"})
      .input("f0", onnx::TensorProto::FLOAT, {"batch", "frames"})
      .input("energy", onnx::TensorProto::FLOAT, {"batch", "frames"})
      .input("frame_lengths", onnx::TensorProto::INT64, {"batch"})
      .input("speaker_id", onnx::TensorProto::INT64, {"batch"})
      .input("seed", onnx::TensorProto::INT64, {"batch"})
      .input("noise_scale", onnx::TensorProto::FLOAT, {"1"})
      .initializer("last_axis", Tensor::from_vector<int64_t>({1}, {2}))
      .initializer("axis_1", Tensor::from_vector<int64_t>({1}, {1}))
      .initializer("ten", Tensor::from_vector<float>({1}, {10}))
      .initializer("hundred", Tensor::from_vector<float>({1}, {100}))
      .initializer("thousand", Tensor::from_vector<float>({1}, {1000}));
  int_attribute(b.node("ReduceSum", {"whisper_feat", "last_axis"}, {"content"}), "keepdims", 0);
  b.add("Add", {"content", "f0"}, {"a"})
      .add("Mul", {"energy", "ten"}, {"energy10"})
      .add("Add", {"a", "energy10"}, {"b"});
  int_attribute(b.node("Cast", {"speaker_id"}, {"speaker"}), "to", onnx::TensorProto::FLOAT);
  int_attribute(b.node("Cast", {"seed"}, {"seed_f"}), "to", onnx::TensorProto::FLOAT);
  b.add("Mul", {"speaker", "hundred"}, {"speaker100"})
      .add("Unsqueeze", {"speaker100", "axis_1"}, {"speaker_col"})
      .add("Add", {"b", "speaker_col"}, {"c"})
      .add("Mul", {"seed_f", "noise_scale"}, {"noise"})
      .add("Mul", {"noise", "thousand"}, {"noise1000"})
      .add("Unsqueeze", {"noise1000", "axis_1"}, {"noise_col"})
      .add("Add", {"c", "noise_col"}, {"d"})
      .add("Unsqueeze", {"d", "axis_1"}, {"audio"})
      .add("Identity", {"frame_lengths"}, {"audio_lengths"})
      .output("audio", onnx::TensorProto::FLOAT, {"batch", "1", "frames"})
      .output("audio_lengths", onnx::TensorProto::INT64, {"batch"});
  return b;
}

class SvcPackage : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("amphora_acoustic_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    svc_graph().save((dir_ / "model.onnx").string());
    write_manifest(kSvcManifest);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_manifest(const std::string& text) { std::ofstream(dir_ / "amphora.json") << text; }
  AcousticModel load() { return AcousticModel::load(dir_.string(), Options{1, true}); }

  fs::path dir_;
};

Tensor floats(const Shape& shape, const std::vector<float>& values) {
  return Tensor::from_vector<float>(shape, values);
}

// Two frames, each input valid.
ConversionInput good_input() {
  ConversionInput input;
  input.content["whisper"] = floats({2, 3}, {1, 2, 3, 4, 5, 6});
  input.f0 = floats({2}, {100, 0});
  input.energy = floats({2}, {0.5f, 1});
  return input;
}

TEST_F(SvcPackage, DescribesWhatConvertTakes) {
  const AcousticInfo info = load().info();
  EXPECT_EQ(info.task, "svc");
  ASSERT_EQ(info.content_features.size(), 1u);
  EXPECT_EQ(info.content_features[0].name, "whisper");
  EXPECT_EQ(info.content_features[0].input, "whisper_feat");
  EXPECT_EQ(info.content_features[0].dim, 3);
  EXPECT_TRUE(info.uses_f0);
  EXPECT_TRUE(info.uses_energy);
  EXPECT_EQ(info.speaker_count, 4);
}

TEST_F(SvcPackage, FeedsEachInputWhereTheManifestSays) {
  const AcousticModel model = load();
  const ConversionControls controls{.speaker = 2, .noise_scale = 0.5f, .seed = 5};
  // 6 + 100 + 5 + 200 + 2500, 15 + 0 + 10 + 200 + 2500
  const std::vector<float> expected = {2811, 2725};
  EXPECT_EQ(model.convert(good_input(), controls), expected);

  // The input's name, a leading batch of 1 and float64 (numpy's default) are taken as well.
  ConversionInput input = good_input();
  input.content = {{"whisper_feat", floats({1, 2, 3}, {1, 2, 3, 4, 5, 6})}};
  input.f0 = Tensor::from_vector<double>({1, 2}, {100, 0});
  EXPECT_EQ(model.convert(input, controls), expected);
}

TEST_F(SvcPackage, BadInputIsRefusedNamingIt) {
  const AcousticModel model = load();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  using Edit = std::function<void(ConversionInput&, ConversionControls&)>;
  const std::vector<std::pair<Edit, std::string>> cases = {
      {[](ConversionInput& in, ConversionControls&) { in.content.clear(); },
       "content feature 'whisper' (whisper_feat) is missing"},
      {[](ConversionInput& in, ConversionControls&) {
         in.content["hubert"] = floats({2, 3}, {1, 2, 3, 4, 5, 6});
       },
       "content feature 'hubert' is not one of the model's: whisper"},
      {[](ConversionInput& in, ConversionControls&) {
         in.content["whisper_feat"] = in.content["whisper"];
       },
       "is given twice"},
      {[](ConversionInput& in, ConversionControls&) {
         in.content["whisper"] = floats({2, 2}, {1, 2, 3, 4});
       },
       "(whisper_feat) is float32 [2, 2]: the model takes float32 [frames, 3]"},
      {[](ConversionInput& in, ConversionControls&) {
         in.content["whisper"] = Tensor(DType::kFloat32, {0, 3});
       },
       "(whisper_feat) has no frames"},
      {[](ConversionInput& in, ConversionControls&) {
         in.f0 = floats({3}, {1, 2, 3});
       },
       "f0 has 3 frames but content feature 'whisper' (whisper_feat) has 2"},
      {[](ConversionInput& in, ConversionControls&) { in.energy = floats({1}, {1}); },
       "energy has 1 frames but content feature 'whisper' (whisper_feat) has 2"},
      {[](ConversionInput& in, ConversionControls&) { in.f0.reset(); }, "the model needs f0"},
      {[](ConversionInput& in, ConversionControls&) { in.energy.reset(); },
       "the model needs energy"},
      {[=](ConversionInput& in, ConversionControls&) {
         in.f0 = floats({2}, {100, nan});
       },
       "f0 at frame 1 is nan"},
      {[](ConversionInput& in, ConversionControls&) {
         in.f0 = floats({2}, {-1, 100});
       },
       "f0 at frame 0 is -1"},
      {[=](ConversionInput& in, ConversionControls&) {
         in.energy = floats({2}, {1, inf});
       },
       "energy at frame 1 is inf"},
      {[](ConversionInput&, ConversionControls& c) { c.speaker = 4; }, "speaker 4 is out of range"},
      {[](ConversionInput&, ConversionControls& c) { c.noise_scale = -1; }, "noise_scale is -1"},
  };
  for (const auto& [edit, fragment] : cases) {
    ConversionInput input = good_input();
    ConversionControls controls;
    edit(input, controls);
    try {
      model.convert(input, controls);
      ADD_FAILURE() << "accepted, expected: " << fragment;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }
}

TEST_F(SvcPackage, EachTaskPointsToTheOther) {
  try {
    load().synthesize({1, 2, 3});
    ADD_FAILURE() << "an SVC model spoke phone ids";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("convert()"), std::string::npos) << e.what();
  }
  write_manifest(kTtsManifest);
  try {
    load().convert(good_input());
    ADD_FAILURE() << "a TTS model converted content features";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("synthesize()"), std::string::npos) << e.what();
  }
}

TEST_F(SvcPackage, AManifestNamingAnInputTheModelLacksIsRefusedAtLoad) {
  std::string manifest = kSvcManifest;
  manifest.replace(manifest.find("\"input\": \"whisper_feat\""), 23, "\"input\": \"hubert_feat\"");
  write_manifest(manifest);
  try {
    load();
    ADD_FAILURE() << "accepted a feature the model has no input for";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find("hubert_feat"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace amphora
