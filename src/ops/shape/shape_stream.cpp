// How shape ops stream: views and layout changes are local as long as time keeps its own
// axis; Slice and Concat along time become an offset and a delay; Gather and Split refuse to
// work along time.
#include "ops/shape/shape_common.hpp"

namespace amphora {

namespace {

constexpr int64_t kOpenEnd = int64_t{1} << 31;  // Slice ends at or beyond this mean "to the end"

// Reshape/Flatten: time must not merge with an outer axis.
std::string reshape_rule(const Node& node, const std::vector<size_t>& streams,
                         const StreamQuery& query, StreamNodePlan& plan) {
  plan.role = StreamRole::kLocal;
  const std::string& out = node.outputs[0];
  if (streams[0] != 0 || !query.is_stream(out)) return "";
  const Shape& in_shape = query.probe_shape(node.inputs[0], 0);
  const Shape& out_shape = query.probe_shape(out, 0);
  int64_t before_in = 1, before_out = 1;
  for (int64_t a = 0; a < plan.axis; ++a) before_in *= in_shape[a];
  for (int64_t a = 0; a < query.time_axis(out); ++a) before_out *= out_shape[a];
  return before_in == before_out ? "" : "reshapes across the time axis";
}

std::string slice_rule(const Node& node, const std::vector<size_t>& streams,
                       const StreamQuery& query, StreamNodePlan& plan) {
  plan.role = StreamRole::kLocal;
  if (streams[0] != 0) return "";
  std::string why;
  std::vector<int64_t> starts = constant_ints(node, 1, query, "starts", why);
  std::vector<int64_t> ends = constant_ints(node, 2, query, "ends", why);
  std::vector<int64_t> axes = constant_ints(node, 3, query, "axes", why);
  std::vector<int64_t> steps = constant_ints(node, 4, query, "steps", why);
  if (!why.empty()) return why;
  const int64_t rank = query.rank(node.inputs[0]);
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  int time_entry = -1;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (normalized(axes[i], rank) == plan.axis) time_entry = static_cast<int>(i);
  }
  if (time_entry < 0) return "";
  if (axes.size() != 1) return "slices time and other axes at once";
  if (!steps.empty() && steps[0] != 1) return "strided Slice along time";
  if (starts[0] < 0) return "slices from the end of the input (not known yet)";
  if (ends[0] >= 0 && ends[0] < kOpenEnd) return "cuts a fixed length out of a time series";
  plan.role = StreamRole::kTimeSlice;
  plan.slice_start = starts[0];
  plan.slice_hold = ends[0] < 0 ? -ends[0] : 0;
  return "";
}

std::string concat_rule(const Node& node, const std::vector<size_t>& streams,
                        const StreamQuery& query, StreamNodePlan& plan) {
  const std::string& out = node.outputs[0];
  const int64_t axis = normalized(node.get_int("axis"), query.rank(out));
  if (axis != query.time_axis(out)) {
    plan.role = StreamRole::kLocal;
    return "";
  }
  if (streams.size() != 1) return "joins two time series end to end";
  plan.role = StreamRole::kTimeConcat;
  plan.stream_input = streams[0];
  plan.axis = axis;
  return "";
}

std::string gather_rule(const Node& node, const std::vector<size_t>& streams,
                        const StreamQuery& query, StreamNodePlan& plan) {
  if (streams.size() > 1) return "gathers with streamed indices";
  return stream_unless_along_time(0)(node, streams, query, plan);
}

}  // namespace

void register_shape_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule({"Squeeze", "Unsqueeze", "Transpose", "Expand", "Identity", "Dropout"},
                           stream_pointwise);
  registry.set_stream_rule({"Reshape", "Flatten"}, reshape_rule);
  registry.set_stream_rule("", "Slice", slice_rule);
  registry.set_stream_rule("", "Concat", concat_rule);
  registry.set_stream_rule("", "Gather", gather_rule);
  registry.set_stream_rule("", "Split", stream_unless_along_time(0));
}

}  // namespace amphora
