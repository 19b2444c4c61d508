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

#include "stream/analysis.hpp"

namespace amphora::stream {

enum class Role {
  kSkip,           // folded constant, length-only value, or not needed by any output
  kLocal,          // ordinary kernel on the new steps
  kConv,           // 1-D convolution over time
  kConvTranspose,  // 1-D transposed convolution over time
  kPad,            // padding of the time axis
  kTimeSlice,      // Slice along time: drop `slice_start` steps, hold back `slice_hold`
  kTimeConcat,     // Concat along time of fixed pieces around one stream
  kCumSum,         // running sum along time
  kHeadTake,       // Gather/Slice of a fixed early range of a stream -> head value
  kHeadLocal,      // computed once from head (and static) values
};

struct NodePlan {
  Role role = Role::kSkip;
  int64_t axis = -1;  // time axis of the stream input
  // Conv / ConvTranspose along time.
  int64_t kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0, output_padding = 0;
  std::string bias;  // ConvTranspose: added once per output step, not per overlapping chunk
  std::string activation, sum;  // FusedConvTranspose: applied after the bias, per final step
  float activation_alpha = 0.01f;
  // Pad.
  std::string pad_mode;  // constant | reflect | edge
  double pad_value = 0;
  // TimeSlice.
  int64_t slice_start = 0, slice_hold = 0;
  // TimeConcat: which input is the stream.
  size_t stream_input = 0;
  // HeadTake: stream steps needed before the head value can be computed.
  int64_t head_needs = 0;
  Node kernel_node;  // the node the kernel is built from (padding removed for convolutions)
};

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
