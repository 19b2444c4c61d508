// The inverse STFT of a spectral head (Vocos, APNet) on a stream of spectral frames: each pushed
// frame is overlap-added, and samples no later frame can touch are returned. The sums happen in
// the same order as Stft::inverse, so the concatenated output is identical to it.
#pragma once

#include <cstdint>
#include <vector>

#include "audio/stft.hpp"

namespace amphora::audio {

class IstftStream {
 public:
  explicit IstftStream(const StftConfig& config);

  // real/imag: [bins, frames] bins-major, as Spectrum. Returns the samples now final.
  std::vector<float> push(const Spectrum& frames);
  // The rest, up to frames * hop_length samples in all (the offline output length).
  std::vector<float> finish();

 private:
  std::vector<float> emit_until(int64_t position);

  Stft stft_;
  int64_t frames_ = 0;   // frames overlap-added so far
  int64_t base_ = 0;     // signal position of signal_[0]
  int64_t emitted_ = 0;  // signal positions emitted (or skipped by the trim)
  std::vector<double> signal_, envelope_;
};

}  // namespace amphora::audio
