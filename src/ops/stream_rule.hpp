// How an op behaves along a streamed time axis. Each op family declares a rule for its ops next
// to their kernels (`OpRegistry::set_stream_rule`, in the family's register function); the
// streamer (src/stream/plan.cpp) asks the registry for the rule of every node that reads a time
// series, so a new op streams by touching its own folder only. An op without a rule is refused
// by name.
//
// A rule answers in the streamer's small vocabulary of roles: point-wise (kLocal: the ordinary
// kernel on the new steps), keeps an input tail (kConv), overlap-add (kConvTranspose), a delay
// at the start and the end (kPad, kTimeConcat), an offset (kTimeSlice), cumulative state
// (kCumSum) -- or refuses, saying why.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "graph/ir.hpp"
#include "ops/conv/conv_post_ops.hpp"

namespace amphora {

enum class StreamRole {
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

// What the streamer does with one node, filled by its op's rule (and, for head nodes, by the
// streamer itself).
struct StreamNodePlan {
  StreamRole role = StreamRole::kSkip;
  int64_t axis = -1;  // time axis of the stream input
  // Conv / ConvTranspose along time.
  int64_t kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0, output_padding = 0;
  std::string bias;  // ConvTranspose: added once per output step, not per overlapping chunk
  // FusedConvTranspose: its activation (post.activation, post.alpha) and residual (`sum`),
  // applied after the bias, per final step.
  ConvPostOps post;
  std::string sum;
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

// What a rule may ask about the values around its node, answered from the streamer's time
// analysis (two probe runs of the graph at different lengths).
class StreamQuery {
 public:
  virtual ~StreamQuery() = default;
  virtual bool is_stream(const std::string& value) const = 0;
  virtual int64_t time_axis(const std::string& value) const = 0;  // -1 unless a stream
  virtual int64_t rank(const std::string& value) const = 0;
  // The value's shape in probe 0 or 1 (streams differ along their time axis only).
  virtual const Shape& probe_shape(const std::string& value, int probe) const = 0;
  // An initializer or folded constant; nullptr when the value depends on the input.
  virtual const Tensor* constant(const std::string& value) const = 0;
};

// Fills `plan` (role and parameters) for a node whose inputs at `streams` are time series, with
// plan.axis preset to the first one's time axis and plan.kernel_node to the node. Returns why
// the node cannot stream, or "" when it can. A kLocal answer is then checked by the streamer for
// what holds of every local node (stream inputs of one length, an integer step ratio).
using StreamRule = std::function<std::string(const Node& node, const std::vector<size_t>& streams,
                                             const StreamQuery& query, StreamNodePlan& plan)>;

// Rules shared by many ops.
// Output step t depends on input step t only, whatever the attributes.
std::string stream_pointwise(const Node&, const std::vector<size_t>&, const StreamQuery&,
                             StreamNodePlan& plan);
// Local unless its `axis` attribute (default `default_axis`) is the time axis of input 0.
StreamRule stream_unless_along_time(int64_t default_axis);

// Helpers for rules.
int64_t normalized(int64_t axis, int64_t rank);
// The int64 values of a constant input, empty when the input is absent; sets `why` when the
// input depends on the data.
std::vector<int64_t> constant_ints(const Node& node, size_t input, const StreamQuery& query,
                                   const char* what, std::string& why);

}  // namespace amphora
