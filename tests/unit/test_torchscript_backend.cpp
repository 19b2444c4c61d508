// The TorchScript backend (Options::backend = kTorchScript) through the public API: a bare .ts,
// a package described by amphora.json, the Vocoder on top, and every way loading or running
// can fail. Fixtures: tests/unit/torchscript_fixtures (see make_fixtures.py there).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "amphora/amphora.hpp"
#include "amphora/vocoder.hpp"
#include "core/npy.hpp"

namespace amphora {
namespace {

namespace fs = std::filesystem;

const fs::path kFixtures = fs::path(AMPHORA_SOURCE_DIR) / "tests/unit/torchscript_fixtures";
const Options kTorchScript{1, false, Backend::kTorchScript};

class TorchScriptBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!backend_available(Backend::kTorchScript)) {
      GTEST_SKIP() << "libamphora was built without LibTorch (AMPHORA_WITH_TORCHSCRIPT=OFF)";
    }
    dir_ = fs::temp_directory_path() / ("amphora_torchscript_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }

  fs::path write(const std::string& name, const std::string& text) {
    fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  // A package directory holding tiny.ts as model.ts with `manifest` as its amphora.json.
  fs::path package(const std::string& manifest) {
    fs::path pkg = dir_ / "pkg";
    fs::create_directories(pkg);
    fs::copy_file(kFixtures / "tiny.ts", pkg / "model.ts", fs::copy_options::overwrite_existing);
    std::ofstream(pkg / "amphora.json") << manifest;
    return pkg;
  }

  fs::path dir_;
};

// Runs `fn`, expecting an amphora::Error with `code` whose message contains every `parts`.
template <typename Fn>
void expect_error(Fn&& fn, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    fn();
    FAIL() << "expected an error mentioning " << parts.front();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
    // LibTorch's own messages run to dozens of lines (backtraces, serialized code).
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  std::vector<float> x = a.to_float_vector(), y = b.to_float_vector();
  float worst = 0;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
    worst = std::max(worst, std::abs(x[i] - y[i]));
  }
  return worst;
}

TEST(Backend, NamesRoundTrip) {
  for (Backend backend : {Backend::kNative, Backend::kTorchScript}) {
    EXPECT_EQ(parse_backend(backend_name(backend)), backend);
  }
  EXPECT_TRUE(backend_available(Backend::kNative));
  expect_error([] { parse_backend("onnxruntime"); }, ErrorCode::kInvalidArgument,
               {"onnxruntime", "native or torchscript"});
}

TEST(Backend, WithoutLibTorchTheTorchScriptBackendSaysSo) {
  if (backend_available(Backend::kTorchScript)) GTEST_SKIP() << "built with LibTorch";
  expect_error([] { Model::load((kFixtures / "tiny.ts").string(), kTorchScript); },
               ErrorCode::kUnsupported, {"tiny.ts", "built without LibTorch"});
}

// The plugin is looked up beside the executable (as here, in build/) or in the install tree's
// lib/; AMPHORA_TORCHSCRIPT_PLUGIN names it instead when set.
TEST_F(TorchScriptBackend, PluginPathCanBeOverriddenByTheEnvironment) {
  ASSERT_EQ(setenv("AMPHORA_TORCHSCRIPT_PLUGIN", (dir_ / "missing.so").c_str(), 1), 0);
  const bool available_elsewhere = backend_available(Backend::kTorchScript);
  unsetenv("AMPHORA_TORCHSCRIPT_PLUGIN");
  EXPECT_FALSE(available_elsewhere);
  EXPECT_TRUE(backend_available(Backend::kTorchScript));
}

TEST_F(TorchScriptBackend, BareFileIsAMelToAudioModel) {
  Model model = Model::load((kFixtures / "tiny.ts").string(), kTorchScript);
  EXPECT_EQ(model.backend(), Backend::kTorchScript);
  ASSERT_EQ(model.inputs().size(), 1u);
  EXPECT_EQ(model.inputs()[0].to_string(), "mel: float32 [batch, 4, frames]");  // 4: first conv
  ASSERT_EQ(model.outputs().size(), 1u);
  EXPECT_EQ(model.outputs()[0].name, "audio");
  EXPECT_TRUE(model.metadata().empty());
  EXPECT_EQ(model.opset(), 0);

  std::vector<std::pair<size_t, size_t>> progress;
  auto outputs = model.run({{"mel", read_npy((kFixtures / "tiny_input.npy").string())}},
                           [&](size_t done, size_t total) { progress.emplace_back(done, total); });
  EXPECT_LT(max_abs_diff(outputs.at("audio"), read_npy((kFixtures / "tiny_expected.npy").string())),
            1e-6f);
  EXPECT_EQ(progress, (std::vector<std::pair<size_t, size_t>>{{1, 1}}));
}

TEST_F(TorchScriptBackend, RunsOnVaryingLengthsAndLeavesInputsAlone) {
  Model model = Model::load((kFixtures / "tiny.ts").string(), kTorchScript);
  for (int64_t frames : {1, 6, 37}) {
    Tensor mel = Tensor::from_vector<float>({1, 4, frames}, std::vector<float>(4 * frames, 0.5f));
    Tensor audio = model.run({{"mel", mel}}).at("audio");
    EXPECT_EQ(audio.shape(), (Shape{1, 1, 2 * frames}));
    EXPECT_EQ(mel.to_float_vector(), std::vector<float>(4 * frames, 0.5f));
  }
}

TEST_F(TorchScriptBackend, PackageManifestNamesTheTensors) {
  const std::string manifest = R"({"family": "tiny", "sample_rate": 8000, "hop_length": 2,
    "n_mels": 4, "head": {"type": "waveform"}, "formats": {"torchscript": "model.ts"},
    "inputs": [{"name": "mel", "dtype": "float32", "dims": ["batch", 4, "frames"]}],
    "outputs": [{"name": "wave", "dtype": "float32", "dims": ["batch", 1, "samples"]}]})";
  fs::path pkg = package(manifest);
  // The directory, and its model.ts on its own (the amphora.json beside it describes it).
  for (const fs::path& path : {pkg, pkg / "model.ts"}) {
    Model model = Model::load(path.string(), kTorchScript);
    EXPECT_EQ(model.outputs()[0].to_string(), "wave: float32 [batch, 1, samples]");
    EXPECT_EQ(model.metadata().at("amphora"), manifest);
    auto outputs = model.run({{"mel", read_npy((kFixtures / "tiny_input.npy").string())}});
    EXPECT_LT(
        max_abs_diff(outputs.at("wave"), read_npy((kFixtures / "tiny_expected.npy").string())),
        1e-6f);
  }
}

TEST_F(TorchScriptBackend, VocoderWorksUnchanged) {
  VocoderOptions options;
  options.threads = 1;
  options.backend = Backend::kTorchScript;
  options.sample_rate = 8000;
  Vocoder vocoder = Vocoder::load((kFixtures / "tiny.ts").string(), options);
  EXPECT_EQ(vocoder.info().n_mels, 4);
  EXPECT_EQ(vocoder.info().hop_length, 2);  // measured by running the model
  std::vector<float> samples = vocoder.vocode(read_npy((kFixtures / "tiny_input.npy").string()));
  // Within float rounding, not bit-exact: LibTorch's kernels round differently across CPUs.
  const Tensor expected = read_npy((kFixtures / "tiny_expected.npy").string());
  EXPECT_LT(max_abs_diff(Tensor::from_vector<float>(expected.shape(), samples), expected), 1e-6f);
}

TEST_F(TorchScriptBackend, RejectsAFileThatIsNotATorchScriptArchive) {
  fs::path path = write("notes.ts", "not a zip archive\n");
  expect_error([&] { Model::load(path.string(), kTorchScript); }, ErrorCode::kInvalidModel,
               {path.string(), "not a TorchScript archive"});
}

TEST_F(TorchScriptBackend, RejectsAnArchiveFromAnIncompatiblePyTorch) {
  fs::path path = kFixtures / "tiny_v99.ts";
  expect_error([&] { Model::load(path.string(), kTorchScript); }, ErrorCode::kInvalidModel,
               {path.string(), "PyTorch version", "version 99"});
}

TEST_F(TorchScriptBackend, RejectsMissingFilesAndPackagesWithoutModelTs) {
  expect_error([&] { Model::load((dir_ / "absent.ts").string(), kTorchScript); }, ErrorCode::kIo,
               {"absent.ts"});
  expect_error([&] { Model::load(dir_.string(), kTorchScript); }, ErrorCode::kIo,
               {dir_.string(), "model.ts not found"});
}

TEST_F(TorchScriptBackend, RejectsAManifestThatDisagreesWithForward) {
  fs::path pkg = package(R"({"inputs": [{"name": "mel", "dims": ["batch", 4, "frames"]},
    {"name": "f0", "dims": ["batch", "frames"]}], "outputs": [{"name": "audio"}]})");
  expect_error([&] { Model::load(pkg.string(), kTorchScript); }, ErrorCode::kInvalidModel,
               {"model.ts", "forward() takes 1 tensors (mel)", "2 inputs"});
  fs::path no_outputs = package(R"({"inputs": [{"name": "mel"}]})");
  expect_error([&] { Model::load(no_outputs.string(), kTorchScript); }, ErrorCode::kInvalidModel,
               {"amphora.json", "\"outputs\""});
}

TEST_F(TorchScriptBackend, RejectsInputsThatDoNotMatch) {
  Model model = Model::load((kFixtures / "tiny.ts").string(), kTorchScript);
  const Tensor mel(DType::kFloat32, {1, 4, 6});
  expect_error(
      [&] {
        model.run({{"spec", mel}});
      },
      ErrorCode::kInvalidArgument, {"unknown input 'spec'", "mel: float32 [batch, 4, frames]"});
  expect_error([&] { model.run({}); }, ErrorCode::kInvalidArgument, {"missing input 'mel'"});
  expect_error(
      [&] {
        model.run({{"mel", Tensor(DType::kFloat32, {1, 80, 6})}});
      },
      ErrorCode::kInvalidArgument, {"input 'mel'", "[1, 80, 6]", "dim 1 must be 4"});
  expect_error(
      [&] {
        model.run({{"mel", Tensor(DType::kFloat32, {4, 6})}});
      },
      ErrorCode::kInvalidArgument, {"input 'mel'", "[4, 6]"});
  expect_error(
      [&] {
        model.run({{"mel", Tensor(DType::kInt64, {1, 4, 6})}});
      },
      ErrorCode::kInvalidArgument, {"input 'mel'", "int64"});
  // Shapes the declaration allows but the network cannot take: LibTorch's error, first line.
  expect_error(
      [&] {
        model.run({{"mel", Tensor(DType::kFloat32, {1, 4, 0})}});
      },
      ErrorCode::kInvalidArgument, {"tiny.ts", "forward() failed"});
}

}  // namespace
}  // namespace amphora
