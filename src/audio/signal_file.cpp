#include "audio/signal_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.hpp"
#include "core/npy.hpp"

namespace amphora::audio {

AudioBuffer read_signal(const std::string& path) {
  namespace fs = std::filesystem;
  if (fs::path(path).extension() != ".npy") return read_audio(path);
  const Tensor tensor = read_npy(path);
  const Shape& shape = tensor.shape();
  const bool vector_like = !shape.empty() && std::all_of(shape.begin(), shape.end() - 1,
                                                         [](int64_t d) { return d == 1; });
  if (!vector_like) {
    fail(ErrorCode::kInvalidArgument,
         "'{}' has shape {}; expected samples as [N], [1, N] or [1, 1, N]", path, shape_str(shape));
  }
  if (tensor.dtype() != DType::kFloat32 && tensor.dtype() != DType::kFloat64) {
    fail(ErrorCode::kInvalidArgument, "'{}' holds {}; expected float32 or float64 samples", path,
         dtype_name(tensor.dtype()));
  }
  if (tensor.numel() == 0) fail(ErrorCode::kIo, "'{}' holds no samples", path);
  AudioBuffer buffer;
  buffer.samples = tensor.to_float_vector();
  for (size_t i = 0; i < buffer.samples.size(); ++i) {
    if (!std::isfinite(buffer.samples[i])) {
      fail(ErrorCode::kInvalidArgument, "'{}': sample {} is {}", path, i, buffer.samples[i]);
    }
  }
  return buffer;
}

void check_output_path(const std::string& path, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(path, ec) && !force) {
    fail(ErrorCode::kIo, "output '{}' already exists (pass --force to overwrite)", path);
  }
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    fail(ErrorCode::kIo, "cannot write '{}': directory '{}' does not exist", path, parent.string());
  }
}

bool MelOptions::any_set() const {
  return sample_rate || n_fft || win_length || hop_length || n_mels || fmin || fmax || norm_mean ||
         norm_std;
}

MelConfig MelOptions::resolve(int default_rate) const {
  MelConfig cfg;
  cfg.sample_rate = sample_rate.value_or(default_rate);
  cfg.n_fft = n_fft.value_or(1024);
  cfg.win_length = win_length.value_or(cfg.n_fft);
  cfg.hop_length = hop_length.value_or(256);
  cfg.n_mels = n_mels.value_or(80);
  cfg.fmin = fmin.value_or(0.0);
  cfg.fmax = fmax.value_or(0.0);
  cfg.norm_mean = norm_mean;
  cfg.norm_std = norm_std;
  cfg.validate();
  return cfg;
}

void resample_to(AudioBuffer& signal, const std::string& path, int rate) {
  if (signal.sample_rate == 0 || signal.sample_rate == rate) return;
  std::fprintf(stderr, "note: resampling '%s' from %d Hz to %d Hz\n", path.c_str(),
               signal.sample_rate, rate);
  signal.samples = resample(signal.samples, signal.sample_rate, rate);
  signal.sample_rate = rate;
}

}  // namespace amphora::audio
