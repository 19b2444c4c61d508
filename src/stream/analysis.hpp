// How each value of a graph behaves along time, found by running the graph on two input lengths
// with different random data and comparing every value:
//   - a value whose size differs along exactly one axis is a *stream* along that axis, with
//     `rate` elements per mel frame (samples for waveforms, frames for spectra);
//   - a value that depends on neither the data nor the length is *static* (folded to a
//     constant: the Shape->Gather->Concat chains torch emits for F.pad and reshapes);
//   - a value that depends on the data but not the length is a *head* value: it comes from a
//     fixed position of a stream (NSF's initial phases read the noise's first sample);
//   - a value computed from the input length (a Shape of a stream) is a *length* value, which a
//     streamer cannot know in advance.
// The two lengths are long enough for every padding of the vocoder families to be legal.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/tensor.hpp"
#include "graph/ir.hpp"
#include "ops/kernel.hpp"

namespace amphora::stream {

enum class ValueKind { kStatic, kStream, kHead, kLength };

struct ValueTime {
  ValueKind kind = ValueKind::kStatic;
  int64_t axis = -1;     // time axis of a stream
  double rate = 0;       // stream elements per input frame
  Shape probe_shape[2];  // the value's shape in the two probes
};

struct TimeAnalysis {
  std::map<std::string, ValueTime> values;  // every graph input and node output
  std::map<std::string, Tensor> constants;  // static node outputs, folded
  std::string problem;                      // non-empty: why the graph cannot stream
  static constexpr int64_t kProbeFrames[2] = {48, 61};
};

// Where an input's time runs: the axis (negative counts from the end, as in numpy) and how
// many elements it has per mel frame (1 for a mel or f0, the hop for a noise waveform). The
// caller knows this from the model's contract (a vocoder's mel is [batch, n_mels, frames]),
// so it holds whatever the exporter named the axis, or if it named it at all.
struct InputTime {
  int64_t axis = -1;
  int64_t per_frame = 1;
};
using InputTimes = std::map<std::string, InputTime>;

// `inputs`: the time axis of every graph input that has one. Their other dims are the declared
// fixed sizes, and 1 for a symbolic axis 0 (the batch). An input that is not listed and has a
// symbolic dim past the batch makes the graph not streamable (reported in `problem`, not thrown).
TimeAnalysis analyze_time(const Graph& graph, const InputTimes& inputs,
                          const KernelOptions& kernels);

}  // namespace amphora::stream
