// Streaming runs shared by `amphora vocode --stream` and `amphora bench --stream`: push a mel
// in chunks through a VocoderStream as if the frames arrived in real time, and time it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "amphora/vocoder.hpp"

namespace amphora::cli {

struct StreamTiming {
  std::vector<float> samples;
  double first_audio_ms = 0;          // from the push that completes the frames the first
                                      // sample needs, to that sample being returned
  int64_t first_audio_after_frames = 0;  // mel frames pushed when the first samples came
  std::vector<double> chunk_ms;       // per push (and finish)
  double total_s = 0;
};

// mel [n_mels, T] or [1, n_mels, T]; f0 [T] / [1, T] or nullptr. Pushes cycle through
// `chunk_frames` (one size, or several to mimic uneven arrival).
StreamTiming run_stream(const Vocoder& vocoder, const Tensor& mel, const Tensor* f0,
                        const std::vector<int64_t>& chunk_frames);

// "16" or "1,7,3" -> sizes, each >= 1; fails naming the flag otherwise.
std::vector<int64_t> parse_chunk_frames(const std::string& text);

}  // namespace amphora::cli
