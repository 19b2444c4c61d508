// Signal comparison metrics on signals whose answers are known, and the CLI-facing signal
// files (.npy samples, output paths, piecewise mel options).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>
#include <random>

#include "audio/metrics.hpp"
#include "audio/signal_file.hpp"
#include "audio_test_util.hpp"
#include "core/npy.hpp"

namespace amphora::audio {
namespace {

namespace fs = std::filesystem;

using testing::noise;

MelConfig mel_22k() {
  MelConfig cfg;
  cfg.fmax = 8000;
  return cfg;
}

TEST(Metrics, IdenticalSignalsAreAtZeroDistance) {
  const std::vector<float> a = noise(22050, 1);
  const SignalComparison result = compare_signals(a, a, mel_22k());
  EXPECT_EQ(result.compared, 22050);
  EXPECT_EQ(result.max_abs, 0.0);
  EXPECT_TRUE(std::isinf(result.snr_db) && result.snr_db > 0);
  ASSERT_TRUE(result.log_mel_l1.has_value());
  EXPECT_EQ(*result.log_mel_l1, 0.0);
  ASSERT_TRUE(result.mr_stft.has_value());
  EXPECT_EQ(result.mr_stft->resolutions, 3);
  EXPECT_EQ(result.mr_stft->distance, 0.0);
}

TEST(Metrics, KnownErrorGivesKnownMaxAbsAndSnr) {
  // b = a + e with a a unit-amplitude sine and e a 0.01 square wave: SNR = 10 log10(0.5/1e-4).
  const int64_t n = 48000;
  std::vector<float> a(n), b(n);
  for (int64_t i = 0; i < n; ++i) {
    a[i] = static_cast<float>(std::sin(2.0 * std::numbers::pi * 440.0 * i / 48000.0));
    b[i] = a[i] + ((i / 100) % 2 == 0 ? 0.01f : -0.01f);
  }
  EXPECT_NEAR(max_abs_difference(a, b), 0.01, 1e-6);
  EXPECT_NEAR(snr_db(a, b), 10.0 * std::log10(0.5 / 1e-4), 0.01);
  EXPECT_TRUE(std::isinf(snr_db(std::vector<float>(10, 0.0f), std::vector<float>(10, 1.0f))));
}

TEST(Metrics, HalvingTheSignalGivesHalfSpectralConvergenceAndLogTwo) {
  // |S_b| = |S_a| / 2 everywhere (loud noise keeps the 1e-7 floor out of play), so each
  // resolution scores SC = 0.5 and log-magnitude L1 = ln 2.
  const std::vector<float> a = noise(24000, 2, 0.5f);
  std::vector<float> b(a);
  for (float& x : b) x *= 0.5f;
  const auto distance = multi_resolution_stft_distance(a, b);
  ASSERT_TRUE(distance.has_value());
  EXPECT_EQ(distance->resolutions, 3);
  EXPECT_NEAR(distance->spectral_convergence, 0.5, 1e-4);
  EXPECT_NEAR(distance->log_magnitude_l1, std::log(2.0), 1e-3);
  EXPECT_NEAR(distance->distance, 0.5 + std::log(2.0), 1e-3);
  // The log-mel of a signal at half amplitude is lower by ln 2 wherever the clamp is not hit.
  EXPECT_NEAR(log_mel_l1(a, b, mel_22k()), std::log(2.0), 1e-3);
}

TEST(Metrics, LengthMismatchComparesTheCommonPrefix) {
  const std::vector<float> a = noise(10000, 3);
  std::vector<float> b(a.begin(), a.begin() + 7000);
  const SignalComparison result = compare_signals(a, b, mel_22k());
  EXPECT_EQ(result.length_a, 10000);
  EXPECT_EQ(result.length_b, 7000);
  EXPECT_EQ(result.compared, 7000);
  EXPECT_EQ(result.max_abs, 0.0);
  EXPECT_EQ(*result.log_mel_l1, 0.0);
}

TEST(Metrics, ShortSignalsLeaveOutWhatCannotBeFramed) {
  const std::vector<float> a = noise(600, 4);
  const std::vector<float> b = noise(600, 5);
  const SignalComparison result = compare_signals(a, b, mel_22k());
  EXPECT_GT(result.max_abs, 0.0);
  EXPECT_TRUE(result.log_mel_l1.has_value());  // 600 > the 384-sample reflect pad
  ASSERT_TRUE(result.mr_stft.has_value());
  EXPECT_EQ(result.mr_stft->resolutions, 2);  // 2048/2 = 1024 does not fit 600 samples
  const SignalComparison tiny = compare_signals(noise(100, 6), noise(100, 7), mel_22k());
  EXPECT_FALSE(tiny.log_mel_l1.has_value());
  EXPECT_FALSE(tiny.mr_stft.has_value());
}

class SignalFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("amphora_test_signal_{}_{}",
                       ::testing::UnitTest::GetInstance()->current_test_info()->name(), getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(SignalFiles, ReadsNpySamplesInVocoderShapes) {
  write_npy(path("flat.npy"), Tensor::from_vector<float>({4}, {0.1f, 0.2f, 0.3f, 0.4f}));
  write_npy(path("batched.npy"), Tensor::from_vector<double>({1, 1, 3}, {0.5, -0.5, 0.25}));
  const AudioBuffer flat = read_signal(path("flat.npy"));
  EXPECT_EQ(flat.sample_rate, 0);
  EXPECT_EQ(flat.samples, (std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f}));
  EXPECT_EQ(read_signal(path("batched.npy")).samples, (std::vector<float>{0.5f, -0.5f, 0.25f}));

  write_npy(path("mel.npy"), Tensor(DType::kFloat32, {80, 10}));
  try {
    read_signal(path("mel.npy"));
    ADD_FAILURE() << "a [80, 10] mel is not a signal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[80, 10]"), std::string::npos) << e.what();
  }
  write_npy(path("nan.npy"),
            Tensor::from_vector<float>({3}, {0.0f, std::numeric_limits<float>::infinity(), 0.f}));
  EXPECT_THROW(read_signal(path("nan.npy")), Error);
}

TEST_F(SignalFiles, ExistingOutputNeedsForce) {
  const std::string out = path("out.npy");
  EXPECT_NO_THROW(check_output_path(out, false));
  write_npy(out, Tensor(DType::kFloat32, {1}));
  try {
    check_output_path(out, false);
    ADD_FAILURE() << "an existing output must not be overwritten silently";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos);
  }
  EXPECT_NO_THROW(check_output_path(out, true));
  EXPECT_THROW(check_output_path(path("missing_dir/out.npy"), true), Error);
}

TEST(MelOptions, UnsetFieldsTakeAmphionDefaults) {
  MelOptions options;
  EXPECT_FALSE(options.any_set());
  MelConfig cfg = options.resolve(16000);
  EXPECT_EQ(cfg.sample_rate, 16000);
  EXPECT_EQ(cfg.n_fft, 1024);
  EXPECT_EQ(cfg.win_length, 1024);
  EXPECT_EQ(cfg.hop_length, 256);
  EXPECT_EQ(cfg.n_mels, 80);
  EXPECT_DOUBLE_EQ(cfg.effective_fmax(), 8000.0);
  options.n_fft = 1920;
  options.norm_mean = -4.92;
  EXPECT_TRUE(options.any_set());
  EXPECT_THROW(options.resolve(24000), Error);  // mean without std
  options.norm_std = 2.85;
  cfg = options.resolve(24000);
  EXPECT_EQ(cfg.win_length, 1920);
  EXPECT_DOUBLE_EQ(*cfg.norm_std, 2.85);
}

}  // namespace
}  // namespace amphora::audio
