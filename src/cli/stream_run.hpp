// Streaming runs shared by `amphora vocode --stream` and `amphora bench --stream`: push a mel
// in chunks through a VocoderStream as if the frames arrived in real time, and time it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "amphora/vocoder.hpp"

namespace amphora::cli {

struct StreamTiming {
  std::vector<float> samples;  // empty when the caller did not keep them
  int64_t sample_count = 0;
  double first_audio_ms = 0;             // from the push that completes the frames the first
                                         // sample needs, to that sample being returned
  int64_t first_audio_after_frames = 0;  // mel frames pushed when the first samples came
  std::vector<double> chunk_ms;          // per push (and finish)
  double total_s = 0;
};

// The mel (and f0) frames [at, at + n) of the input, as they "arrive".
struct MelChunk {
  Tensor mel;                // [n_mels, n]
  std::optional<Tensor> f0;  // [n], NSF only
};
using MelSource = std::function<MelChunk(int64_t at, int64_t n)>;

// Pushes `frames` frames from `source`, cycling through `chunk_frames` (one size, or several to
// mimic uneven arrival). `keep_samples` false: only count them (memory-flatness runs).
StreamTiming run_stream(const Vocoder& vocoder, int64_t frames, const MelSource& source,
                        const std::vector<int64_t>& chunk_frames, bool keep_samples = true);
// A source slicing a whole mel [n_mels, T] / [1, n_mels, T] (and f0 [T] / [1, T] or nullptr);
// fails when f0 does not have one value per frame.
MelSource slice_source(const Tensor& mel, const Tensor* f0);

// "16" or "1,7,3" -> sizes, each >= 1; fails naming the flag otherwise.
std::vector<int64_t> parse_chunk_frames(const std::string& text);

}  // namespace amphora::cli
