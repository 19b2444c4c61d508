#include "audio/istft_stream.hpp"

#include <algorithm>

namespace amphora::audio {

namespace {
constexpr double kMinEnvelope = 1e-11;  // as Stft::inverse
}

IstftStream::IstftStream(const StftConfig& config) : stft_(config), emitted_(stft_.trim_start()) {}

std::vector<float> IstftStream::push(const Spectrum& frames) {
  const int64_t n_fft = stft_.config().n_fft, hop = stft_.config().hop_length;
  if (frames.bins != stft_.bins()) {
    fail(ErrorCode::kInvalidArgument, "ISTFT frames have {} bins, expected {}", frames.bins,
         stft_.bins());
  }
  std::vector<double> time(static_cast<size_t>(n_fft));
  const std::vector<double>& window = stft_.window();
  for (int64_t t = 0; t < frames.frames; ++t) {
    const int64_t at = frames_ * hop - base_;
    const auto needed = static_cast<size_t>(at + n_fft);
    if (signal_.size() < needed) {
      signal_.resize(needed, 0.0);
      envelope_.resize(needed, 0.0);
    }
    stft_.synthesize_frame(&frames.real[t], &frames.imag[t], frames.frames, time.data());
    for (int64_t i = 0; i < n_fft; ++i) {
      signal_[at + i] += time[i];
      envelope_[at + i] += window[i] * window[i];
    }
    ++frames_;
  }
  // Frame `frames_` (not yet seen) starts at frames_ * hop: everything before is final.
  return emit_until(std::min(frames_ * hop, stft_.trim_start() + frames_ * hop));
}

std::vector<float> IstftStream::finish() {
  const int64_t hop = stft_.config().hop_length;
  return emit_until(stft_.trim_start() + frames_ * hop);
}

std::vector<float> IstftStream::emit_until(int64_t position) {
  std::vector<float> out;
  const int64_t known = base_ + static_cast<int64_t>(signal_.size());
  for (int64_t p = emitted_; p < position; ++p) {
    if (p >= known) {  // past the last frame: Stft::inverse zero-pads there too
      out.push_back(0.0f);
      continue;
    }
    const double envelope = envelope_[p - base_];
    if (envelope < kMinEnvelope) {
      fail(ErrorCode::kInvalidArgument,
           "ISTFT window envelope vanishes at sample {}: the frames do not overlap enough to "
           "invert",
           p - stft_.trim_start());
    }
    out.push_back(static_cast<float>(signal_[p - base_] / envelope));
  }
  emitted_ = std::max(emitted_, position);
  // Drop what is emitted and can no longer be touched (the next frame starts at frames_ * hop).
  const int64_t untouchable = std::min(emitted_, frames_ * stft_.config().hop_length);
  const int64_t drop = std::min<int64_t>(untouchable - base_, static_cast<int64_t>(signal_.size()));
  if (drop > 0) {
    signal_.erase(signal_.begin(), signal_.begin() + drop);
    envelope_.erase(envelope_.begin(), envelope_.begin() + drop);
    base_ += drop;
  }
  return out;
}

}  // namespace amphora::audio
