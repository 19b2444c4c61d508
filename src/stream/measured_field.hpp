// The receptive field of a mel -> samples model measured from outside, for models whose graph
// the streamer cannot read (a bare TorchScript file): run it on a random mel, change one frame
// in the middle, and see which output frames change. Effects below 1e-6 of the output's peak
// are ignored, as the exporter's own measurement does, so chunked output made with this field
// stays within 1e-4 of the offline output. A change that reaches the edges of the longest probe
// means state that spans the whole input (the field is then unbounded).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/tensor.hpp"
#include "stream/plan.hpp"

namespace amphora::stream {

// `vocode`: mel [1, n_mels, frames] -> frames * hop samples.
using VocodeFn = std::function<std::vector<float>(const Tensor& mel)>;

ReceptiveField measure_receptive_field(const VocodeFn& vocode, int64_t n_mels, int64_t hop);

}  // namespace amphora::stream
