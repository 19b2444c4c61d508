// Runs a graph on a stream: inputs arrive a few time steps at a time, and each push returns the
// output steps that are now final. Every node keeps only the state its role needs (plan.hpp),
// so memory stays flat however long the stream, and the concatenated outputs equal the
// whole-input run up to float rounding of the overlap-adds.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "stream/plan.hpp"

namespace amphora::stream {

class GraphStreamer {
 public:
  // `plan` must have no problem (plan.problem empty).
  GraphStreamer(std::shared_ptr<const Graph> graph, std::shared_ptr<const StreamPlan> plan,
                const KernelOptions& options);
  ~GraphStreamer();

  // New steps of every streamed input, along each input's time axis (any count, 0 included);
  // inputs that do not stream (fixed per utterance) are given with the first push. Returns the
  // new steps of every output.
  std::map<std::string, Tensor> push(const std::map<std::string, Tensor>& inputs);
  // Ends every input stream; returns the remaining output steps.
  std::map<std::string, Tensor> finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace amphora::stream
