// Calibration for `amphora quantize --int8`: the mels a model is run on to find the range of
// each quantized node's input (static activation scales) and to measure what quantizing each
// layer does to the audio.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "amphora/mel_config.hpp"
#include "graph/ir.hpp"

namespace amphora {

struct CalibrationSet {
  std::vector<Tensor> mels;  // float32 [n_mels, frames] each
  std::vector<std::string> files;
  int64_t frames = 0;  // in all
};

// Reads wavs (turned into mels with the model's own settings `mel`; their sample rate must be
// mel->sample_rate) and mel .npy files ([n_mels, T] or [1, n_mels, T]), given as files or
// directories (their .wav/.flac/.npy files, sorted). Each mel is cut to `max_frames_per_file`
// and reading stops once `max_frames` are in. Fails with kInvalidArgument or kIo naming the
// file: missing, empty, unreadable, another sample rate or number of mel bins, a wav where the
// model has no mel settings, or no usable file at all.
CalibrationSet read_calibration(const std::vector<std::string>& paths, int64_t n_mels,
                                const std::optional<audio::MelConfig>& mel, int64_t max_frames,
                                int64_t max_frames_per_file);

// The range of the input 0 of each node at `nodes` over the calibration mels, keyed by value
// name: the `percentile` of |x| (100: max |x|). The graph's one input is the mel
// [1, n_mels, T]; it runs as imported (no passes), so every intermediate value exists to be
// measured.
std::map<std::string, float> activation_ranges(const Graph& graph, const std::vector<size_t>& nodes,
                                               const CalibrationSet& calibration, double percentile,
                                               int threads);

}  // namespace amphora
