// Audio front end: file I/O, resampling, STFT/ISTFT, mel filterbank and mel, config parsing.
// Metrics live in test_audio_metrics.cpp; torch parity in test_audio_istft_parity.cpp and
// tests/python/test_audio_parity.py.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>

#include "audio/mel.hpp"
#include "audio/mel_filters.hpp"
#include "audio/stft.hpp"
#include "audio/wav_io.hpp"
#include "audio_test_util.hpp"

namespace amphora::audio {
namespace {

namespace fs = std::filesystem;

// One directory per test process: ctest runs the discovered tests in parallel.
fs::path scratch_dir() {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir =
      fs::temp_directory_path() / fmt::format("amphora_test_audio_{}_{}", test->name(), ::getpid());
  fs::create_directories(dir);
  return dir;
}

std::vector<float> sine(int64_t length, double freq, int rate, double amplitude = 0.5) {
  std::vector<float> out(static_cast<size_t>(length));
  for (int64_t i = 0; i < length; ++i) {
    out[i] = static_cast<float>(amplitude * std::sin(2.0 * std::numbers::pi * freq * i / rate));
  }
  return out;
}

using testing::noise;

template <typename Fn>
void expect_error(ErrorCode code, const std::string& fragment, Fn&& fn) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// ------------------------------------------------------------------------------ wav I/O

TEST(WavIo, RoundTripsEverySubtype) {
  const fs::path dir = scratch_dir();
  const std::vector<float> signal = sine(1000, 440.0, 16000, 0.8);
  const std::pair<WavSubtype, double> cases[] = {{WavSubtype::kPcm16, 1.0 / 32768},
                                                 {WavSubtype::kPcm24, 1.0 / 8388608},
                                                 {WavSubtype::kFloat32, 0.0}};
  for (const auto& [subtype, quantum] : cases) {
    const std::string path = (dir / "x.wav").string();
    write_wav(path, signal, 16000, subtype);
    const AudioBuffer back = read_audio(path);
    EXPECT_EQ(back.sample_rate, 16000);
    EXPECT_EQ(back.channels_in_file, 1);
    ASSERT_EQ(back.samples.size(), signal.size());
    for (size_t i = 0; i < signal.size(); ++i) {
      ASSERT_NEAR(back.samples[i], signal[i], quantum) << "sample " << i;
    }
  }
  fs::remove_all(dir);
}

TEST(WavIo, ClipsInsteadOfWrapping) {
  const fs::path dir = scratch_dir();
  const std::string path = (dir / "loud.wav").string();
  write_wav(path, std::vector<float>{1.5f, -2.0f, 0.25f}, 8000, WavSubtype::kPcm16);
  const AudioBuffer back = read_audio(path);
  ASSERT_EQ(back.samples.size(), 3u);
  EXPECT_GT(back.samples[0], 0.99f);
  EXPECT_LE(back.samples[1], -0.99f);
  EXPECT_NEAR(back.samples[2], 0.25f, 1e-4);
  fs::remove_all(dir);
}

TEST(WavIo, DownmixesStereoFlac) {
  const fs::path dir = scratch_dir();
  const std::string path = (dir / "stereo.flac").string();
  SF_INFO info{};
  info.samplerate = 22050;
  info.channels = 2;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
  const std::vector<float> interleaved = {0.5f, 0.25f, -0.5f, 0.0f, 0.125f, 0.125f};
  ASSERT_EQ(sf_writef_float(file, interleaved.data(), 3), 3);
  sf_close(file);

  const AudioBuffer mono = read_audio(path);
  EXPECT_EQ(mono.sample_rate, 22050);
  EXPECT_EQ(mono.channels_in_file, 2);
  ASSERT_EQ(mono.samples.size(), 3u);
  EXPECT_NEAR(mono.samples[0], 0.375f, 1e-4);
  EXPECT_NEAR(mono.samples[1], -0.25f, 1e-4);
  EXPECT_NEAR(mono.samples[2], 0.125f, 1e-4);
  fs::remove_all(dir);
}

// Streaming FLAC encoders leave STREAMINFO's total sample count at 0 ("unknown"), for which
// libsndfile reports SF_COUNT_MAX frames: the reader must decode what is there instead of
// trusting (or multiplying) that count.
TEST(WavIo, ReadsAFlacOfUnknownLength) {
  const fs::path dir = scratch_dir();
  const std::string path = (dir / "stream.flac").string();
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 2;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
  const std::vector<float> interleaved = {0.5f, 0.25f, -0.5f, 0.0f, 0.125f, 0.125f};
  ASSERT_EQ(sf_writef_float(file, interleaved.data(), 3), 3);
  sf_close(file);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // "fLaC", a 4-byte block header, then STREAMINFO, whose 36-bit total ends at byte 25.
  ASSERT_GE(bytes.size(), 26u);
  ASSERT_EQ(bytes.substr(0, 4), "fLaC");
  bytes[21] = static_cast<char>(bytes[21] & 0xF0);
  for (size_t i = 22; i < 26; ++i) bytes[i] = 0;

  const AudioBuffer mono = read_audio_from_memory(bytes, "stream.flac");
  EXPECT_EQ(mono.sample_rate, 16000);
  ASSERT_EQ(mono.samples.size(), 3u);
  EXPECT_NEAR(mono.samples[1], -0.25f, 1e-4);
  fs::remove_all(dir);
}

TEST(WavIo, BadFilesNameTheFile) {
  const fs::path dir = scratch_dir();
  expect_error(ErrorCode::kIo, "missing.wav", [&] { read_audio((dir / "missing.wav").string()); });

  const std::string empty_file = (dir / "zero_bytes.wav").string();
  std::ofstream(empty_file).close();
  expect_error(ErrorCode::kIo, "zero_bytes.wav", [&] { read_audio(empty_file); });

  const std::string garbage = (dir / "garbage.wav").string();
  std::ofstream(garbage) << "this is not a RIFF file at all, just text";
  expect_error(ErrorCode::kIo, "garbage.wav", [&] { read_audio(garbage); });

  const std::string no_samples = (dir / "no_samples.wav").string();
  write_wav(no_samples, std::vector<float>{}, 16000);
  expect_error(ErrorCode::kIo, "holds no samples", [&] { read_audio(no_samples); });

  expect_error(ErrorCode::kIo, "no_such_dir", [&] {
    write_wav((dir / "no_such_dir" / "x.wav").string(), std::vector<float>{0.0f}, 16000);
  });
  fs::remove_all(dir);
}

TEST(WavIo, ReadsFromMemoryAsFromAFile) {
  const fs::path dir = scratch_dir();
  const std::string path = (dir / "x.wav").string();
  write_wav(path, sine(500, 440.0, 16000), 16000, WavSubtype::kPcm24);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const AudioBuffer from_file = read_audio(path);
  const AudioBuffer from_memory = read_audio_from_memory(bytes, "upload.wav");
  EXPECT_EQ(from_memory.sample_rate, from_file.sample_rate);
  EXPECT_EQ(from_memory.samples, from_file.samples);

  expect_error(ErrorCode::kIo, "upload.wav", [&] { read_audio_from_memory("", "upload.wav"); });
  expect_error(ErrorCode::kIo, "upload.wav",
               [&] { read_audio_from_memory(bytes.substr(0, 30), "upload.wav"); });
  fs::remove_all(dir);
}

TEST(Resample, KeepsASinePureAtTheNewRate) {
  const std::vector<float> input = sine(16000, 1000.0, 16000);
  const std::vector<float> output = resample(input, 16000, 24000);
  ASSERT_EQ(output.size(), 24000u);
  const std::vector<float> expected = sine(24000, 1000.0, 24000);
  double worst = 0.0;
  for (size_t i = 2000; i < 22000; ++i) {  // away from the filter's edge transients
    worst = std::max(worst, std::fabs(static_cast<double>(output[i]) - expected[i]));
  }
  EXPECT_LT(worst, 1e-3);
  EXPECT_EQ(resample(input, 16000, 16000), input);
  expect_error(ErrorCode::kInvalidArgument, "rates", [&] { resample(input, 0, 16000); });
}

// ------------------------------------------------------------------------------ STFT / ISTFT

TEST(Stft, HannWindowIsPeriodic) {
  const std::vector<double> w = hann_window(8);
  ASSERT_EQ(w.size(), 8u);
  EXPECT_DOUBLE_EQ(w[0], 0.0);
  EXPECT_NEAR(w[4], 1.0, 1e-15);  // periodic: the peak is at length/2, and w[8] would be 0
  EXPECT_NEAR(w[2], 0.5, 1e-15);
}

TEST(Stft, CosineAtABinHasTheExpectedPeak) {
  const int n_fft = 512;
  const int bin = 37;
  std::vector<float> signal(n_fft);
  for (int i = 0; i < n_fft; ++i) {
    signal[i] = static_cast<float>(std::cos(2.0 * std::numbers::pi * bin * i / n_fft));
  }
  const Stft stft({n_fft, 128, n_fft, StftPadding::kNone});
  const Spectrum spec = stft.forward(signal);
  ASSERT_EQ(spec.bins, n_fft / 2 + 1);
  ASSERT_EQ(spec.frames, 1);
  // Periodic Hann sums to n_fft/2; a unit cosine puts half of that into its bin.
  EXPECT_NEAR(std::hypot(spec.real[bin], spec.imag[bin]), n_fft / 4.0, 1e-3);
  EXPECT_NEAR(std::hypot(spec.real[bin + 1], spec.imag[bin + 1]), n_fft / 8.0, 1e-3);
  EXPECT_NEAR(std::hypot(spec.real[bin + 3], spec.imag[bin + 3]), 0.0, 1e-3);
}

TEST(Stft, CenteredRoundTripRestoresTheSignal) {
  const StftConfig configs[] = {{1024, 256, 1024, StftPadding::kCenter},
                                {1024, 256, 800, StftPadding::kCenter},
                                {1920, 480, 1920, StftPadding::kCenter},
                                {512, 128, 512, StftPadding::kCenter},
                                {16, 4, 12, StftPadding::kCenter}};
  const std::vector<float> signal = noise(5003, 7);
  for (const StftConfig& cfg : configs) {
    const Stft stft(cfg);
    const Spectrum spec = stft.forward(signal);
    EXPECT_EQ(spec.frames, stft.frames_for(static_cast<int64_t>(signal.size())));
    EXPECT_EQ(spec.frames, 1 + static_cast<int64_t>(signal.size()) / cfg.hop_length);
    const std::vector<float> back = stft.inverse(spec, static_cast<int64_t>(signal.size()));
    ASSERT_EQ(back.size(), signal.size());
    double worst = 0.0;
    for (size_t i = 0; i < signal.size(); ++i) {
      worst = std::max(worst, std::fabs(static_cast<double>(back[i]) - signal[i]));
    }
    EXPECT_LT(worst, 1e-5) << "n_fft " << cfg.n_fft << " win " << cfg.win_length;
    // Without `length`, torch.istft returns hop * (frames - 1) samples.
    EXPECT_EQ(stft.inverse(spec).size(), static_cast<size_t>(cfg.hop_length * (spec.frames - 1)));
  }
}

TEST(Stft, SamePaddingInverseRestoresFramesTimesHop) {
  // Vocos frames sample t*hop - pad .. t*hop - pad + n_fft; analysing a zero-extended signal
  // that way and inverting with 'same' padding gives the signal back, frames * hop long.
  const int n_fft = 1920, hop = 480, pad = (n_fft - hop) / 2;
  const int64_t frames = 20;
  const std::vector<float> signal = noise(frames * hop, 3);
  std::vector<float> extended(static_cast<size_t>(frames * hop + n_fft), 0.0f);
  std::copy(signal.begin(), signal.end(), extended.begin() + pad);
  const Stft analysis({n_fft, hop, n_fft, StftPadding::kNone});
  Spectrum spec = analysis.forward(extended);
  ASSERT_GE(spec.frames, frames);
  Spectrum first{spec.bins, frames, std::vector<float>(spec.bins * frames),
                 std::vector<float>(spec.bins * frames)};
  for (int64_t k = 0; k < spec.bins; ++k) {
    for (int64_t t = 0; t < frames; ++t) {
      first.real[k * frames + t] = spec.real[k * spec.frames + t];
      first.imag[k * frames + t] = spec.imag[k * spec.frames + t];
    }
  }
  const Stft same({n_fft, hop, n_fft, StftPadding::kSame});
  const std::vector<float> back = same.inverse(first);
  ASSERT_EQ(back.size(), signal.size());
  for (size_t i = 0; i < signal.size(); ++i) ASSERT_NEAR(back[i], signal[i], 1e-5) << i;
}

TEST(Stft, RefusesBadConfigurationsAndShapes) {
  expect_error(ErrorCode::kInvalidArgument, "n_fft", [] { Stft({1023, 256, 1023}); });
  expect_error(ErrorCode::kInvalidArgument, "n_fft 2000000000 exceeds", [] {
    Stft({2000000000, 256, 1024});
  });
  expect_error(ErrorCode::kInvalidArgument, "win_length", [] { Stft({512, 128, 1024}); });
  expect_error(ErrorCode::kInvalidArgument, "hop_length", [] { Stft({512, 0, 512}); });
  expect_error(ErrorCode::kInvalidArgument, "same", [] {
    Stft({1024, 256, 800, StftPadding::kSame});
  });
  const Stft stft({16, 4, 16, StftPadding::kCenter});
  Spectrum wrong{8, 3, std::vector<float>(24), std::vector<float>(24)};
  expect_error(ErrorCode::kInvalidArgument, "expected [9 bins", [&] { stft.inverse(wrong); });
  Spectrum short_data{9, 3, std::vector<float>(20), std::vector<float>(27)};
  expect_error(ErrorCode::kInvalidArgument, "27", [&] { stft.inverse(short_data); });
  // A hop longer than the window leaves gaps that no division can fill.
  const Stft gappy({16, 12, 8, StftPadding::kCenter});
  Spectrum ok{9, 4, std::vector<float>(36, 1.0f), std::vector<float>(36, 0.0f)};
  expect_error(ErrorCode::kInvalidArgument, "envelope", [&] { gappy.inverse(ok); });
  expect_error(ErrorCode::kInvalidArgument, "reflect padding", [] {
    Stft({16, 4, 16}).forward(std::vector<float>(8, 0.0f));
  });
}

// ------------------------------------------------------------------------------ mel

TEST(MelFilters, SlaneyScaleKnownPoints) {
  EXPECT_NEAR(hz_to_mel_slaney(1000.0), 15.0, 1e-12);
  EXPECT_NEAR(hz_to_mel_slaney(200.0), 3.0, 1e-12);
  EXPECT_NEAR(hz_to_mel_slaney(6400.0), 42.0, 1e-12);  // 27 mels per factor 6.4
  for (double hz : {0.0, 123.0, 999.0, 1000.0, 4321.0, 12000.0}) {
    EXPECT_NEAR(mel_to_hz_slaney(hz_to_mel_slaney(hz)), hz, 1e-9);
  }
}

TEST(MelFilters, TrianglesAreOrderedAndAreaNormalised) {
  const int sr = 24000, n_fft = 2048, n_mels = 100, bins = n_fft / 2 + 1;
  const std::vector<double> fb = mel_filterbank(sr, n_fft, n_mels, 0.0, 12000.0);
  ASSERT_EQ(fb.size(), static_cast<size_t>(n_mels * bins));
  int previous_peak = -1;
  int wide_bands = 0;
  for (int m = 0; m < n_mels; ++m) {
    const double* row = fb.data() + m * bins;
    int peak = 0;
    double area = 0.0;
    int nonzero = 0;
    for (int k = 0; k < bins; ++k) {
      ASSERT_GE(row[k], 0.0);
      if (row[k] > row[peak]) peak = k;
      area += row[k] * sr / n_fft;
      nonzero += row[k] > 0.0;
    }
    EXPECT_GE(peak, previous_peak) << "band " << m;
    previous_peak = peak;
    // Slaney norm: each triangle has unit area in Hz (the sampled sum approximates it well
    // once a triangle spans enough bins).
    if (nonzero > 12) {
      EXPECT_NEAR(area, 1.0, 0.03) << "band " << m;
      ++wide_bands;
    }
  }
  EXPECT_GT(wide_bands, 40);
  expect_error(ErrorCode::kInvalidArgument, "fmax",
               [] { mel_filterbank(16000, 512, 40, 0.0, 9000.0); });
}

MelConfig config_22k() {
  MelConfig cfg;
  cfg.fmax = 8000.0;
  return cfg;
}

TEST(Mel, FramesAreSamplesOverHop) {
  const MelConfig cfg = config_22k();
  for (int64_t length : {512, 1000, 22050, 22050 + 255, 22050 + 256}) {
    const Tensor mel = mel_spectrogram(noise(length, 1), cfg);
    EXPECT_EQ(mel.shape(), (Shape{80, length / 256})) << length;
  }
}

TEST(Mel, ASineLightsTheBandAroundItsFrequency) {
  const MelConfig cfg = config_22k();
  const Tensor mel = mel_spectrogram(sine(22050, 1000.0, 22050), cfg);
  const float* values = mel.data<float>();
  const int64_t frames = mel.dim(1);
  const int64_t t = frames / 2;
  int64_t best = 0;
  for (int64_t m = 0; m < 80; ++m) {
    if (values[m * frames + t] > values[best * frames + t]) best = m;
  }
  // Band centres of this filterbank: the 1 kHz band is where 1000 Hz sits between edges.
  const double step = hz_to_mel_slaney(8000.0) / 81.0;
  const double centre = mel_to_hz_slaney(step * (best + 1));
  EXPECT_NEAR(centre, 1000.0, 60.0) << "band " << best;
  // Silence floors at log(1e-5).
  const Tensor quiet = mel_spectrogram(std::vector<float>(4096, 0.0f), cfg);
  for (float v : quiet.to_float_vector()) EXPECT_NEAR(v, std::log(1e-5), 1e-6);
}

TEST(Mel, NormalisationIsAnAffineMapOfTheLogMel) {
  MelConfig plain;
  plain.sample_rate = 24000;
  plain.n_fft = plain.win_length = 1920;
  plain.hop_length = 480;
  plain.n_mels = 128;
  plain.fmax = 12000;
  MelConfig normalised = plain;
  normalised.norm_mean = -4.92;
  normalised.norm_std = std::sqrt(8.14);
  const std::vector<float> signal = noise(24000, 5);
  const std::vector<float> a = mel_spectrogram(signal, plain).to_float_vector();
  const std::vector<float> b = mel_spectrogram(signal, normalised).to_float_vector();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_NEAR(b[i], (a[i] + 4.92) / std::sqrt(8.14), 1e-5);
  }
}

TEST(Mel, RefusesShortOrNonFiniteAudio) {
  const MelConfig cfg = config_22k();
  expect_error(ErrorCode::kInvalidArgument, "too short",
               [&] { mel_spectrogram(noise(200, 1), cfg); });
  std::vector<float> signal = noise(4096, 2);
  signal[100] = std::nanf("");
  expect_error(ErrorCode::kInvalidArgument, "sample 100", [&] { mel_spectrogram(signal, cfg); });
  MelConfig bad = cfg;
  bad.fmax = 20000;
  expect_error(ErrorCode::kInvalidArgument, "fmax", [&] { mel_spectrogram(noise(4096, 1), bad); });
}

TEST(MelConfig, ReadsTheManifestSection) {
  const auto mel = nlohmann::json::parse(R"({
      "sample_rate": 24000, "n_fft": 1920, "win_length": 1920, "hop_length": 480,
      "n_mels": 128, "fmin": 0, "fmax": null, "center": false, "log": "natural",
      "clamp_min": 1e-5, "norm": {"mean": -4.92, "std": 2.8530685}})");
  const MelConfig cfg = mel_config_from_json(mel, "pkg/amphora.json");
  EXPECT_EQ(cfg.sample_rate, 24000);
  EXPECT_EQ(cfg.n_fft, 1920);
  EXPECT_EQ(cfg.hop_length, 480);
  EXPECT_EQ(cfg.n_mels, 128);
  EXPECT_DOUBLE_EQ(cfg.effective_fmax(), 12000.0);
  ASSERT_TRUE(cfg.norm_mean.has_value());
  EXPECT_DOUBLE_EQ(*cfg.norm_std, 2.8530685);

  auto missing = mel;
  missing.erase("n_mels");
  expect_error(ErrorCode::kInvalidModel, "n_mels",
               [&] { mel_config_from_json(missing, "pkg/amphora.json"); });
  auto log10 = mel;
  log10["log"] = "log10";
  expect_error(ErrorCode::kUnsupported, "log10", [&] { mel_config_from_json(log10, "m.json"); });
  auto bad_fmax = mel;
  bad_fmax["fmax"] = 13000;
  expect_error(ErrorCode::kInvalidModel, "pkg/amphora.json",
               [&] { mel_config_from_json(bad_fmax, "pkg/amphora.json"); });
}

TEST(MelConfig, ReadsAPackageDirectory) {
  const fs::path dir = scratch_dir();
  std::ofstream(dir / "amphora.json") << R"({"schema_version": 1, "mel": {"sample_rate": 22050,
      "n_fft": 1024, "hop_length": 256, "n_mels": 80, "fmin": 0, "fmax": 8000}})";
  const MelConfig cfg = mel_config_from_package(dir.string());
  EXPECT_EQ(cfg.win_length, 1024);  // defaults to n_fft
  EXPECT_DOUBLE_EQ(cfg.fmax, 8000.0);
  EXPECT_FALSE(cfg.norm_mean.has_value());
  expect_error(ErrorCode::kIo, "nowhere",
               [&] { mel_config_from_package((dir / "nowhere").string()); });
  std::ofstream(dir / "broken.json") << "{ not json";
  expect_error(ErrorCode::kInvalidModel, "broken.json",
               [&] { mel_config_from_package((dir / "broken.json").string()); });
  fs::remove_all(dir);
}

}  // namespace
}  // namespace amphora::audio
