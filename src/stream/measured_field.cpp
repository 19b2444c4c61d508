#include "stream/measured_field.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace amphora::stream {

namespace {

constexpr int64_t kFirstProbeFrames = 64;
constexpr int64_t kLongestProbeFrames = 4096;
constexpr double kNegligible = 1e-6;  // of the output's peak

// A log-mel-like random mel (Amphion's mels sit around -4 with a spread of a few units).
Tensor random_mel(int64_t n_mels, int64_t frames, uint64_t seed) {
  Tensor mel(DType::kFloat32, {1, n_mels, frames});
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(-4.0f, 1.5f);
  float* values = mel.data<float>();
  for (int64_t i = 0; i < mel.numel(); ++i) values[i] = normal(rng);
  return mel;
}

}  // namespace

ReceptiveField measure_receptive_field(const VocodeFn& vocode, int64_t n_mels, int64_t hop) {
  for (int64_t frames = kFirstProbeFrames; frames <= kLongestProbeFrames; frames *= 2) {
    const Tensor mel = random_mel(n_mels, frames, 5);
    Tensor changed = mel.clone();
    const int64_t at = frames / 2;
    const Tensor other = random_mel(n_mels, 1, 6);
    for (int64_t bin = 0; bin < n_mels; ++bin) {
      changed.data<float>()[bin * frames + at] = other.data<float>()[bin];
    }
    const std::vector<float> before = vocode(mel), after = vocode(changed);
    if (before.size() != after.size() || before.size() < static_cast<size_t>(frames * hop)) {
      fail(ErrorCode::kInvalidModel,
           "measuring the receptive field: {} frames gave {} and then {} samples, expected {}",
           frames, before.size(), after.size(), frames * hop);
    }
    float peak = 0;
    for (float v : before) peak = std::max(peak, std::abs(v));
    const double threshold = kNegligible * std::max(peak, 1e-30f);
    int64_t first = -1, last = -1;  // output frames that changed
    for (int64_t i = 0; i < frames * hop; ++i) {
      if (std::abs(static_cast<double>(before[i]) - after[i]) > threshold) {
        if (first < 0) first = i / hop;
        last = i / hop;
      }
    }
    if (first < 0) {  // the frame changed nothing: nothing to learn from this model
      fail(ErrorCode::kInvalidModel,
           "measuring the receptive field: changing mel frame {} of {} changed no output sample",
           at, frames);
    }
    if (first > 0 && last < frames - 1) {
      ReceptiveField field;
      field.history_frames = last - at;
      field.lookahead_frames = at - first;
      return field;
    }
  }
  ReceptiveField field;
  field.bounded = false;
  field.unbounded_because = fmt::format(
      "changing one mel frame changes output across a whole {}-frame input", kLongestProbeFrames);
  return field;
}

}  // namespace amphora::stream
