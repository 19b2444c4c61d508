// The streaming plan of a graph: what each node does with the time axis (its role), checked
// once, and the receptive field that follows from those roles.
//
// Roles. Most nodes are *local*: output step t needs input step t only (elementwise maths,
// transposes, per-frame LayerNorm/MatMul, reshapes that merge time with inner axes), so they run
// their ordinary kernel on whatever steps are new. The rest hold state along time: Conv (keeps
// the input tail its next outputs need), ConvTranspose (overlap-add tail, bias added once), Pad
// (start padding emitted first, reflect/edge end padding at finish), Slice/Concat on time (an
// offset or a delay), CumSum (carries the running sum), and *head* nodes that read a fixed
// early position of a stream (once, when it has arrived).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ops/stream_rule.hpp"
#include "stream/analysis.hpp"

namespace amphora::stream {

// The roles and per-node plans are the ops' vocabulary (ops/stream_rule.hpp): each op family
// declares how its ops stream, and the streamer runs the role.
using Role = StreamRole;
using NodePlan = StreamNodePlan;

struct ReceptiveField {
  int64_t history_frames = 0;    // past frames an output frame depends on
  int64_t lookahead_frames = 0;  // future frames it depends on: the streaming delay
  bool bounded = true;           // false: some state spans the whole input (CumSum, head)
  std::string unbounded_because;
};

struct StreamPlan {
  TimeAnalysis time;
  std::vector<NodePlan> nodes;  // parallel to Graph::nodes
  std::string problem;          // non-empty: not streamable, and why (naming the node)
  ReceptiveField field;         // at the graph outputs, in input frames
};

StreamPlan plan_stream(const Graph& graph, const InputTimes& input_times,
                       const KernelOptions& kernels);

}  // namespace amphora::stream
