#include "pipeline/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "audio/mel.hpp"
#include "audio/wav_io.hpp"
#include "core/error.hpp"
#include "core/npy.hpp"
#include "runtime/session.hpp"

namespace amphora {
namespace {

namespace fs = std::filesystem;

bool is_audio(const fs::path& p) { return p.extension() == ".wav" || p.extension() == ".flac"; }

std::vector<std::string> calibration_files(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        const fs::path& p = entry.path();
        if (entry.is_regular_file() && (is_audio(p) || p.extension() == ".npy")) {
          found.push_back(p.string());
        }
      }
      if (found.empty()) {
        fail(ErrorCode::kInvalidArgument,
             "{}: calibration directory holds no .wav, .flac or .npy file", path);
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      fail(ErrorCode::kIo, "{}: no such calibration file or directory", path);
    }
  }
  return files;
}

Tensor first_frames(const Tensor& mel, int64_t frames) {
  const int64_t bins = mel.dim(0), total = mel.dim(1);
  if (frames >= total) return mel;
  Tensor out(DType::kFloat32, {bins, frames});
  for (int64_t b = 0; b < bins; ++b) {
    std::copy_n(mel.data<float>() + b * total, frames, out.data<float>() + b * frames);
  }
  return out;
}

Tensor read_mel(const std::string& file, int64_t n_mels,
                const std::optional<audio::MelConfig>& mel) {
  if (is_audio(fs::path(file))) {
    if (!mel) {
      fail(ErrorCode::kInvalidArgument,
           "{}: the model has no mel settings (a bare ONNX file) to turn audio into mels; "
           "calibrate with mel .npy files, or quantize its package",
           file);
    }
    const audio::AudioBuffer wav = audio::read_audio(file);
    if (wav.sample_rate != mel->sample_rate) {
      fail(ErrorCode::kInvalidArgument,
           "{}: sampled at {} Hz, but the model's mels are made at {} Hz; calibrate with its mel "
           "at that rate (`amphora mel --model PACKAGE --wav FILE -o FILE.npy` resamples)",
           file, wav.sample_rate, mel->sample_rate);
    }
    return audio::mel_spectrogram(wav.samples, *mel);
  }
  Tensor m = read_npy(file);
  if (m.rank() == 3 && m.dim(0) == 1) m = m.reshaped({m.dim(1), m.dim(2)});
  if (m.dtype() != DType::kFloat32 || m.rank() != 2) {
    fail(ErrorCode::kInvalidArgument,
         "{}: a calibration mel must be float32 [n_mels, frames] or [1, n_mels, frames]; this is "
         "{} of rank {}",
         file, dtype_name(m.dtype()), m.rank());
  }
  if (m.dim(0) != n_mels) {
    fail(ErrorCode::kInvalidArgument, "{}: a mel of {} bins, but the model takes {}", file,
         m.dim(0), n_mels);
  }
  if (m.dim(1) == 0) fail(ErrorCode::kInvalidArgument, "{}: the mel has no frames", file);
  for (int64_t i = 0; i < m.numel(); ++i) {
    if (!std::isfinite(m.data<float>()[i])) {
      fail(ErrorCode::kInvalidArgument, "{}: the mel holds NaN or Inf", file);
    }
  }
  return m;
}

float max_abs(const Tensor& t) {
  float m = 0.0f;
  for (int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::fabs(t.data<float>()[i]));
  return m;
}

}  // namespace

CalibrationSet read_calibration(const std::vector<std::string>& paths, int64_t n_mels,
                                const std::optional<audio::MelConfig>& mel, int64_t max_frames,
                                int64_t max_frames_per_file) {
  CalibrationSet set;
  for (const std::string& file : calibration_files(paths)) {
    if (set.frames >= max_frames) break;
    Tensor m = read_mel(file, n_mels, mel);
    m = first_frames(m, std::min(max_frames_per_file, max_frames - set.frames));
    set.frames += m.dim(1);
    set.mels.push_back(std::move(m));
    set.files.push_back(file);
  }
  return set;
}

std::map<std::string, float> activation_ranges(const Graph& graph, const std::vector<size_t>& nodes,
                                               const CalibrationSet& calibration, double percentile,
                                               int threads) {
  if (graph.inputs.size() != 1) {
    fail(ErrorCode::kUnsupported,
         "int8 calibration feeds the model a mel alone, but it has {} inputs (NSF-HiFiGAN's f0 "
         "is not supported); quantize without --calibrate",
         graph.inputs.size());
  }
  const std::string& mel_input = graph.inputs[0].name;
  // Each measured value becomes a graph output, so the session keeps and returns it.
  Graph probe = graph;
  std::set<std::string> values;
  for (size_t i : nodes) values.insert(graph.nodes.at(i).inputs.at(0));
  std::set<std::string> outputs;
  for (const ValueInfo& v : graph.outputs) outputs.insert(v.name);
  for (const std::string& v : values) {
    if (v != mel_input && !outputs.count(v))
      probe.outputs.push_back({v, DType::kFloat32, {}, false});
  }
  SessionOptions options;
  options.threads = threads;
  options.optimize = false;
  Session session(std::move(probe), options);
  auto measured = [&](const Tensor& batch) {
    std::map<std::string, Tensor> result = session.run({{mel_input, batch}});
    result[mel_input] = batch;
    return result;
  };
  // Two passes: the largest |x| of each value, then a histogram of |x| up to it, whose
  // `percentile` is the range (a rare outlier would otherwise coarsen every step).
  std::map<std::string, float> largest;
  for (const Tensor& mel : calibration.mels) {
    const auto result = measured(mel.reshaped({1, mel.dim(0), mel.dim(1)}));
    for (const std::string& v : values) largest[v] = std::max(largest[v], max_abs(result.at(v)));
  }
  if (percentile >= 100.0) return largest;
  constexpr int64_t kBins = 4096;
  std::map<std::string, std::vector<int64_t>> histograms;
  for (const std::string& v : values) histograms[v].assign(kBins, 0);
  for (const Tensor& mel : calibration.mels) {
    const auto result = measured(mel.reshaped({1, mel.dim(0), mel.dim(1)}));
    for (const std::string& v : values) {
      if (largest[v] <= 0) continue;
      const Tensor& t = result.at(v);
      std::vector<int64_t>& h = histograms[v];
      const float to_bin = static_cast<float>(kBins) / largest[v];
      for (int64_t i = 0; i < t.numel(); ++i) {
        ++h[std::min<int64_t>(kBins - 1,
                              static_cast<int64_t>(std::fabs(t.data<float>()[i]) * to_bin))];
      }
    }
  }
  std::map<std::string, float> ranges;
  for (const std::string& v : values) {
    const std::vector<int64_t>& h = histograms[v];
    int64_t total = 0;
    for (int64_t c : h) total += c;
    const double keep = total * percentile / 100.0;
    int64_t seen = 0, bin = 0;
    while (bin < kBins - 1 && seen + h[bin] < keep) seen += h[bin++];
    ranges[v] = largest[v] * static_cast<float>(bin + 1) / kBins;
  }
  return ranges;
}

}  // namespace amphora
