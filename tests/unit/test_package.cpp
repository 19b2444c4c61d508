// The package manifest (amphora.json) as the runtime reads it: what it takes from a valid one,
// and the one-line error, naming the manifest, for anything malformed.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "pipeline/package.hpp"

namespace amphora {
namespace {

constexpr const char* kSource = "pkg/amphora.json";

// A manifest as the exporter writes one for an ISTFT-head family (Vocos), trimmed to what the
// runtime reads.
constexpr const char* kVocos = R"({
  "schema_version": 1, "family": "vocos", "sample_rate": 24000, "hop_length": 16, "n_mels": 24,
  "mel": {"sample_rate": 24000, "n_fft": 64, "win_length": 64, "hop_length": 16, "n_mels": 24,
          "fmin": 0.0, "fmax": null, "center": false, "log": "natural", "clamp_min": 1e-05,
          "norm": {"mean": -4.92, "std": 2.85}},
  "inputs": [{"name": "mel", "dtype": "float32", "dims": ["batch", 24, "frames"]}],
  "head": {"type": "istft", "n_fft": 64, "hop_length": 16, "win_length": 64, "window": "hann",
           "padding": "same", "output": "real_imag"}
})";

void expect_invalid(const std::string& manifest, const std::string& fragment) {
  try {
    vocoder_package_from_manifest(manifest, kSource);
    ADD_FAILURE() << "accepted: " << manifest;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find(kSource), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(Manifest, ReadsWhatTheRuntimeNeeds) {
  const VocoderPackage pkg = vocoder_package_from_manifest(kVocos, kSource);
  EXPECT_EQ(pkg.family, "vocos");
  EXPECT_EQ(pkg.sample_rate, 24000);
  EXPECT_EQ(pkg.hop_length, 16);
  EXPECT_EQ(pkg.n_mels, 24);
  ASSERT_TRUE(pkg.mel.has_value());
  EXPECT_EQ(pkg.mel->n_fft, 64);
  EXPECT_DOUBLE_EQ(*pkg.mel->norm_std, 2.85);
  ASSERT_TRUE(pkg.spectral_head.has_value());
  EXPECT_EQ(pkg.spectral_head->n_fft, 64);
  EXPECT_EQ(pkg.input_names, std::vector<std::string>{"mel"});
  EXPECT_TRUE(pkg.manifest.has_value());
  EXPECT_TRUE(pkg.onnx_path.empty());
}

TEST(Manifest, MalformedManifestsNameTheFile) {
  expect_invalid("", "not a JSON object");
  expect_invalid("[1, 2]", "not a JSON object");
  expect_invalid(R"({"sample_rate": 16000, "hop_length": 32})", "\"n_mels\"");
  expect_invalid(R"({"sample_rate": -1, "hop_length": 32, "n_mels": 20})", "\"sample_rate\"");
}

// Entries of the wrong JSON type used to escape as nlohmann::json's type_error, which names
// neither the file nor the entry (found by fuzz_manifest).
TEST(Manifest, EntriesOfTheWrongTypeNameTheEntry) {
  const std::string sizes = R"("sample_rate": 16000, "hop_length": 32, "n_mels": 20)";
  expect_invalid("{" + sizes + R"(, "family": 5})", "\"family\" must be a string");
  expect_invalid("{" + sizes + R"(, "inputs": [1]})", "\"inputs\" must be an object");
  expect_invalid("{" + sizes + R"(, "inputs": [{"name": ["mel"]}]})", "\"name\" must be a string");
}

// A manifest's STFT sizes were only checked for sign, so a corrupt one made the runtime allocate
// 16 GB for the window (found by fuzz_manifest).
TEST(Manifest, AbsurdStftSizesAreRefused) {
  const std::string sizes = R"("sample_rate": 16000, "hop_length": 32, "n_mels": 20)";
  expect_invalid("{" + sizes + R"(, "head": {"type": "istft", "n_fft": 2000000000,
                 "hop_length": 4}})",
                 "exceeds");
  expect_invalid("{" + sizes + R"(, "mel": {"sample_rate": 16000, "n_fft": 2000000000,
                 "hop_length": 32, "n_mels": 20}})",
                 "exceeds");
}

// Integers were read with get<int>, which wraps: 4294983296 Hz became 16000 Hz.
TEST(Manifest, IntegersBeyondIntAreRefusedNotWrapped) {
  expect_invalid(R"({"sample_rate": 4294983296, "hop_length": 32, "n_mels": 20})",
                 "\"sample_rate\"");
  const std::string sizes = R"("sample_rate": 16000, "hop_length": 32, "n_mels": 20)";
  expect_invalid("{" + sizes + R"(, "mel": {"sample_rate": 16000, "n_fft": 4294967552,
                 "hop_length": 32, "n_mels": 20}})",
                 "\"n_fft\"");
  expect_invalid("{" + sizes + R"(, "head": {"type": "istft", "n_fft": 4294967360,
                 "hop_length": 16}})",
                 "\"n_fft\"");
}

}  // namespace
}  // namespace amphora
