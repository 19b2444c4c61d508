// The C++ ISTFT against PyTorch.
// - EmbeddedTorchGoldens: tiny spectra with outputs computed once by torch.istft and by a
//   Vocos-style irfft + fold (values below), so ctest checks torch parity without Python.
// - DISABLED_CasesFromPython: tests/python/test_audio_parity.py writes spectra with torch,
//   runs this executable with --gtest_also_run_disabled_tests and AMPHORA_ISTFT_CASES=<dir>,
//   and compares the outputs written here with torch.istft. Disabled (not skipped) under plain
//   ctest because the cases only exist while that Python test runs.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "audio/istft_head.hpp"
#include "audio/stft.hpp"
#include "core/error.hpp"
#include "core/npy.hpp"

namespace amphora::audio {
namespace {

// The spectrum both goldens invert: re = sin(0.7 k + 1.3 t), im = cos(0.4 k t + 0.2).
Spectrum pattern_spectrum(int64_t bins, int64_t frames) {
  Spectrum spec{bins, frames, {}, {}};
  for (int64_t k = 0; k < bins; ++k) {
    for (int64_t t = 0; t < frames; ++t) {
      spec.real.push_back(static_cast<float>(std::sin(0.7 * k + 1.3 * t)));
      spec.imag.push_back(static_cast<float>(std::cos(0.4 * k * t + 0.2)));
    }
  }
  return spec;
}

void expect_close(const std::vector<float>& ours, const std::vector<float>& torch) {
  ASSERT_EQ(ours.size(), torch.size());
  for (size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], torch[i], 1e-6) << "sample " << i;
}

TEST(IstftParity, EmbeddedTorchGoldens) {
  // torch.istft(spec, 16, hop_length=4, win_length=12, window=hann_window(12), center=True)
  const std::vector<float> centred = {
      -0.0291125643f, -0.032181556f, -0.0293251538f, -0.026501264f,  0.0139540955f,
      -0.048741289f,  0.0540424872f, 0.002599245f,   -0.0301308538f, 0.0657272006f,
      -0.0475111471f, 0.111888706f,  0.0279385242f,  -0.0778353321f, 0.0324422394f,
      -0.0299946577f, 0.117762538f,  0.085370318f,   -0.198942494f,  0.0922992802f};
  expect_close(Stft({16, 4, 12, StftPadding::kCenter}).inverse(pattern_spectrum(9, 6)), centred);
  // Vocos ISTFT(n_fft=16, hop_length=4, win_length=16, padding="same")
  const std::vector<float> same = {-0.010856816f,   -0.0978144933f, -0.0453951195f, -0.0339952639f,
                                   0.0229250372f,   -0.0548192218f, 0.0125928788f,  -0.0564849928f,
                                   0.0362905105f,   0.076179586f,   -0.0530707633f, 0.0424212949f,
                                   -0.00867019971f, 0.145296691f,   0.0460332141f,  -0.00857991347f,
                                   0.0520374819f,   -0.0588217991f, 0.18672539f,    0.0848403332f,
                                   -0.215264374f,   0.101421738f,   -0.0776550283f, -0.126399813f};
  expect_close(Stft({16, 4, 16, StftPadding::kSame}).inverse(pattern_spectrum(9, 6)), same);
}

TEST(IstftHead, ReadsTheManifestHead) {
  const auto vocos = nlohmann::json::parse(R"({"type": "istft", "n_fft": 1920, "hop_length": 480,
      "win_length": 1920, "window": "hann", "padding": "same", "output": "real_imag"})");
  const std::optional<StftConfig> config = istft_head_from_json(vocos, "pkg/amphora.json");
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->n_fft, 1920);
  EXPECT_EQ(config->hop_length, 480);
  EXPECT_EQ(config->padding, StftPadding::kSame);
  EXPECT_FALSE(istft_head_from_json(nlohmann::json::parse(R"({"type": "waveform"})"), "m.json"));

  auto mag_phase = vocos;
  mag_phase["output"] = "mag_phase";
  EXPECT_THROW(istft_head_from_json(mag_phase, "m.json"), Error);
  auto odd = vocos;
  odd["win_length"] = 1024;  // 'same' needs win_length == n_fft
  try {
    istft_head_from_json(odd, "pkg/amphora.json");
    ADD_FAILURE() << "win_length != n_fft accepted for 'same' padding";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidModel);
    EXPECT_NE(std::string(e.what()).find("pkg/amphora.json"), std::string::npos);
  }
}

TEST(IstftHead, SpectrumFromOnnxOutputs) {
  const Tensor real = Tensor::from_vector<float>({1, 3, 2}, {1, 2, 3, 4, 5, 6});
  const Tensor imag = Tensor::from_vector<float>({1, 3, 2}, {6, 5, 4, 3, 2, 1});
  const Spectrum spec = spectrum_from_tensors(real, imag);
  EXPECT_EQ(spec.bins, 3);
  EXPECT_EQ(spec.frames, 2);
  EXPECT_EQ(spec.real[2], 3.0f);
  EXPECT_EQ(spec.imag[5], 1.0f);
  EXPECT_THROW(spectrum_from_tensors(real, Tensor(DType::kFloat32, {3, 2})), Error);
  EXPECT_THROW(
      spectrum_from_tensors(Tensor(DType::kFloat32, {2, 3, 2}), Tensor(DType::kFloat32, {2, 3, 2})),
      Error);
}

StftPadding padding_from(const std::string& name) {
  if (name == "center") return StftPadding::kCenter;
  if (name == "none") return StftPadding::kNone;
  if (name == "same") return StftPadding::kSame;
  throw std::runtime_error("unknown padding " + name);
}

TEST(IstftParity, DISABLED_CasesFromPython) {
  const char* dir_env = std::getenv("AMPHORA_ISTFT_CASES");
  ASSERT_NE(dir_env, nullptr) << "set AMPHORA_ISTFT_CASES (tests/python/test_audio_parity.py)";
  const std::filesystem::path dir = dir_env;
  std::ifstream listing(dir / "cases.json");
  ASSERT_TRUE(listing) << "no cases.json in " << dir;
  const nlohmann::json cases = nlohmann::json::parse(listing);
  ASSERT_FALSE(cases.empty());
  for (const nlohmann::json& c : cases) {
    const std::string name = c.at("name");
    const Tensor real = read_npy((dir / (name + ".real.npy")).string());
    const Tensor imag = read_npy((dir / (name + ".imag.npy")).string());
    ASSERT_EQ(real.rank(), 2) << name;
    Spectrum spec{real.dim(0), real.dim(1), real.to_float_vector(), imag.to_float_vector()};
    std::optional<int64_t> length;
    if (!c.at("length").is_null()) length = c.at("length").get<int64_t>();
    try {
      const Stft stft(
          {c.at("n_fft"), c.at("hop_length"), c.at("win_length"), padding_from(c.at("padding"))});
      const std::vector<float> out = stft.inverse(spec, length);
      write_npy((dir / (name + ".out.npy")).string(),
                Tensor::from_vector<float>({static_cast<int64_t>(out.size())}, out));
    } catch (const Error& e) {
      // Refusals are part of the parity: Python checks that torch refuses the same cases.
      std::ofstream(dir / (name + ".error.txt")) << e.what();
    }
  }
}

}  // namespace
}  // namespace amphora::audio
