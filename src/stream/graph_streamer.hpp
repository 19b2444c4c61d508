// Runs a graph on a stream: inputs arrive a few time steps at a time, and each push returns the
// output steps that are now final. Every node keeps only the state its role needs (plan.hpp),
// so memory stays flat however long the stream, and the concatenated outputs equal the
// whole-input run up to float rounding of the overlap-adds.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "stream/plan.hpp"

namespace amphora::stream {

// The kernels of one plan's nodes, kept between streams: creating them (oneDNN primitives,
// weights reordered to blocked layouts) costs tens of milliseconds, which a vocoder should pay
// once, not at the start of every utterance. A stream takes a set and gives it back when it
// ends; concurrent streams take different sets.
class KernelPool {
 public:
  using Kernels = std::vector<std::unique_ptr<Kernel>>;  // by node index; null for skipped nodes
  Kernels take();  // empty when no set is idle
  void give_back(Kernels kernels);

 private:
  std::mutex mutex_;
  std::vector<Kernels> idle_;
};

class GraphStreamer {
 public:
  // `plan` must have no problem (plan.problem empty). With a `pool`, kernels come from it and
  // go back to it when the streamer is destroyed.
  GraphStreamer(std::shared_ptr<const Graph> graph, std::shared_ptr<const StreamPlan> plan,
                const KernelOptions& options, std::shared_ptr<KernelPool> pool = nullptr);
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
