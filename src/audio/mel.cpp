#include "audio/mel.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "audio/mel_filters.hpp"
#include "audio/stft.hpp"
#include "core/error.hpp"
#include "core/json_fields.hpp"

namespace amphora::audio {

void MelConfig::validate() const {
  auto positive = [](const char* name, int value) {
    if (value <= 0)
      fail(ErrorCode::kInvalidArgument, "mel {} must be positive, got {}", name, value);
  };
  positive("sample_rate", sample_rate);
  positive("n_fft", n_fft);
  positive("win_length", win_length);
  positive("hop_length", hop_length);
  positive("n_mels", n_mels);
  if (n_fft > kMaxFftSize) {
    fail(ErrorCode::kInvalidArgument, "mel n_fft {} exceeds the largest supported, {}", n_fft,
         kMaxFftSize);
  }
  if (win_length > n_fft) {
    fail(ErrorCode::kInvalidArgument, "mel win_length {} exceeds n_fft {}", win_length, n_fft);
  }
  if (!(fmin >= 0.0 && fmin < effective_fmax() && effective_fmax() <= sample_rate / 2.0)) {
    fail(ErrorCode::kInvalidArgument,
         "mel needs 0 <= fmin < fmax <= sample_rate/2, got fmin={} fmax={} at {} Hz", fmin,
         effective_fmax(), sample_rate);
  }
  if (!(clamp_min > 0.0)) {
    fail(ErrorCode::kInvalidArgument, "mel clamp_min must be positive, got {}", clamp_min);
  }
  if (norm_mean.has_value() != norm_std.has_value()) {
    fail(ErrorCode::kInvalidArgument, "mel normalisation needs both mean and std");
  }
  if (norm_std && !(*norm_std > 0.0)) {
    fail(ErrorCode::kInvalidArgument, "mel normalisation std must be positive, got {}", *norm_std);
  }
}

std::string MelConfig::describe() const {
  std::string text =
      fmt::format("{} Hz, {} mels, n_fft {}, win {}, hop {}, {:g}-{:g} Hz", sample_rate, n_mels,
                  n_fft, win_length, hop_length, fmin, effective_fmax());
  if (center) text += ", center";
  if (norm_mean) text += fmt::format(", normalised (mean {:g}, std {:g})", *norm_mean, *norm_std);
  return text;
}

MelConfig mel_config_from_json(const nlohmann::json& mel, const std::string& source) {
  if (!mel.is_object()) {
    fail(ErrorCode::kInvalidModel, "{}: \"mel\" must be an object", source);
  }
  MelConfig cfg;
  auto integer = [&](const char* key, int& field, bool required) {
    if (!mel.contains(key)) {
      if (required) fail(ErrorCode::kInvalidModel, "{}: \"mel\" lacks \"{}\"", source, key);
      return;
    }
    if (!is_int(mel[key])) {
      fail(ErrorCode::kInvalidModel, "{}: mel \"{}\" must be an integer, got {}", source, key,
           mel[key].dump());
    }
    field = mel[key].get<int>();
  };
  auto number = [&](const char* key, double& field) {
    if (!mel.contains(key) || mel[key].is_null()) return;
    if (!mel[key].is_number()) {
      fail(ErrorCode::kInvalidModel, "{}: mel \"{}\" must be a number, got {}", source, key,
           mel[key].dump());
    }
    field = mel[key].get<double>();
  };
  integer("sample_rate", cfg.sample_rate, true);
  integer("n_fft", cfg.n_fft, true);
  integer("hop_length", cfg.hop_length, true);
  integer("n_mels", cfg.n_mels, true);
  cfg.win_length = cfg.n_fft;
  integer("win_length", cfg.win_length, false);
  number("fmin", cfg.fmin);
  number("fmax", cfg.fmax);
  number("clamp_min", cfg.clamp_min);
  if (mel.contains("center") && !mel["center"].is_null()) {
    if (!mel["center"].is_boolean()) {
      fail(ErrorCode::kInvalidModel, "{}: mel \"center\" must be a boolean", source);
    }
    cfg.center = mel["center"].get<bool>();
  }
  if (mel.contains("log") && !mel["log"].is_null() && mel["log"] != "natural") {
    fail(ErrorCode::kUnsupported, "{}: mel \"log\" is {}; only \"natural\" is supported", source,
         mel["log"].dump());
  }
  if (mel.contains("norm") && !mel["norm"].is_null()) {
    const nlohmann::json& norm = mel["norm"];
    if (!norm.is_object() || !norm.contains("mean") || !norm.contains("std") ||
        !norm["mean"].is_number() || !norm["std"].is_number()) {
      fail(ErrorCode::kInvalidModel, "{}: mel \"norm\" must be null or {{\"mean\": x, \"std\": y}}",
           source);
    }
    cfg.norm_mean = norm["mean"].get<double>();
    cfg.norm_std = norm["std"].get<double>();
  }
  try {
    cfg.validate();
  } catch (const Error& e) {
    fail(ErrorCode::kInvalidModel, "{}: {}", source, e.what());
  }
  return cfg;
}

MelConfig mel_config_from_package(const std::string& package_path) {
  namespace fs = std::filesystem;
  fs::path manifest = package_path;
  if (fs::is_directory(manifest)) manifest /= "amphora.json";
  std::ifstream in(manifest);
  if (!in) fail(ErrorCode::kIo, "cannot read model manifest '{}'", manifest.string());
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorCode::kInvalidModel, "{} is not valid JSON: {}", manifest.string(), e.what());
  }
  if (!root.is_object() || !root.contains("mel")) {
    fail(ErrorCode::kInvalidModel, "{} has no \"mel\" section", manifest.string());
  }
  return mel_config_from_json(root["mel"], manifest.string());
}

Tensor mel_spectrogram(std::span<const float> samples, const MelConfig& cfg) {
  cfg.validate();
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i])) {
      fail(ErrorCode::kInvalidArgument, "audio sample {} is {}; mel needs finite samples", i,
           samples[i]);
    }
  }
  // Amphion pads so that frame t is centred on sample t*hop + hop/2; frames = floor(L / hop).
  const int64_t pad = cfg.center ? cfg.n_fft / 2 : (cfg.n_fft - cfg.hop_length) / 2;
  const auto length = static_cast<int64_t>(samples.size());
  if (length <= pad || length + 2 * pad < cfg.n_fft) {
    fail(ErrorCode::kInvalidArgument,
         "audio of {} samples is too short for one mel frame (n_fft {}, hop {})", length, cfg.n_fft,
         cfg.hop_length);
  }
  const std::vector<double> padded = reflect_pad(samples, pad, pad);
  const Stft stft({cfg.n_fft, cfg.hop_length, cfg.win_length, StftPadding::kNone});
  const int64_t bins = stft.bins();
  const int64_t frames = stft.frames_for(static_cast<int64_t>(padded.size()));
  const std::vector<double> filters =
      mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.effective_fmax());
  // Each triangle covers a few bins; summing only over them makes the product ~n_mels/2x
  // cheaper without changing the result (the skipped weights are exactly 0).
  std::vector<std::pair<int64_t, int64_t>> support(static_cast<size_t>(cfg.n_mels), {0, 0});
  for (int64_t m = 0; m < cfg.n_mels; ++m) {
    const double* row = filters.data() + m * bins;
    int64_t first = 0;
    while (first < bins && row[first] == 0.0) ++first;
    int64_t last = bins;
    while (last > first && row[last - 1] == 0.0) --last;
    support[m] = {first, last};
  }

  Tensor mel(DType::kFloat32, {cfg.n_mels, frames});
  float* out = mel.data<float>();
  std::vector<std::complex<double>> spectrum(static_cast<size_t>(bins));
  std::vector<double> magnitude(static_cast<size_t>(bins));
  for (int64_t t = 0; t < frames; ++t) {
    stft.analyze_frame(padded.data() + t * cfg.hop_length, spectrum.data());
    for (int64_t k = 0; k < bins; ++k) magnitude[k] = std::sqrt(std::norm(spectrum[k]) + 1e-9);
    for (int64_t m = 0; m < cfg.n_mels; ++m) {
      const double* row = filters.data() + m * bins;
      double energy = 0.0;
      for (int64_t k = support[m].first; k < support[m].second; ++k) {
        energy += row[k] * magnitude[k];
      }
      double value = std::log(std::max(energy, cfg.clamp_min));
      if (cfg.norm_mean) value = (value - *cfg.norm_mean) / *cfg.norm_std;
      out[m * frames + t] = static_cast<float>(value);
    }
  }
  return mel;
}

}  // namespace amphora::audio
