// How Pad and Resize stream: padding of the time axis is emitted at the start (constant, or the
// first steps mirrored) and completed at the end; a Resize streams when it repeats each time
// step a fixed number of times, whatever the length.
#include "ops/pad_resize/pad_resize.hpp"

namespace amphora {

namespace {

std::string pad_rule(const Node& node, const std::vector<size_t>& streams, const StreamQuery& query,
                     StreamNodePlan& plan) {
  plan.role = StreamRole::kLocal;
  if (streams[0] != 0) return "";
  std::string why;
  std::vector<int64_t> pads = constant_ints(node, 1, query, "pads", why);
  if (!why.empty()) return why;
  const int64_t rank = query.rank(node.inputs[0]);
  if (node.inputs.size() > 3 && !node.inputs[3].empty()) {
    return "Pad with an axes input is not supported by the streamer";
  }
  if (pads.empty() && node.has("pads")) pads = node.get_ints("pads");
  if (static_cast<int64_t>(pads.size()) != 2 * rank) return "unexpected pads";
  for (int64_t a = 0; a < rank; ++a) {
    if (a != plan.axis && (pads[a] != 0 || pads[rank + a] != 0)) {
      return "pads axes other than time as well; not supported by the streamer";
    }
  }
  plan.pad_begin = pads[plan.axis];
  plan.pad_end = pads[rank + plan.axis];
  if (plan.pad_begin < 0 || plan.pad_end < 0) return "negative (cropping) pads";
  plan.pad_mode = node.get_string("mode", "constant");
  if (plan.pad_mode != "constant" && plan.pad_mode != "reflect" && plan.pad_mode != "edge") {
    return fmt::format("pad mode '{}' is not supported", plan.pad_mode);
  }
  if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
    const Tensor* value = query.constant(node.inputs[2]);
    if (!value) return "its pad value depends on the input";
    plan.pad_value = value->to_float_vector().at(0);
  }
  if (plan.pad_begin || plan.pad_end) plan.role = StreamRole::kPad;
  return "";
}

// Output step j is input step floor(j / s) for an integer scale s, independent of the length:
// nearest neighbour with half-pixel coordinates (either rounding; a tie cannot occur) or
// asymmetric ones with floor, and scales rather than absolute sizes.
std::string resize_rule(const Node& node, const std::vector<size_t>& streams,
                        const StreamQuery& query, StreamNodePlan& plan) {
  plan.role = StreamRole::kLocal;
  const std::string& in = node.inputs[streams[0]];
  const std::string& out = node.outputs[0];
  const bool scales_time =
      query.is_stream(out) &&
      query.probe_shape(out, 0)[query.time_axis(out)] != query.probe_shape(in, 0)[plan.axis];
  if (!scales_time) return "";
  const std::string mode = node.get_string("mode", "nearest");
  const std::string coordinates = node.get_string("coordinate_transformation_mode", "half_pixel");
  const std::string rounding = node.get_string("nearest_mode", "round_prefer_floor");
  const bool half_pixel = coordinates == "half_pixel" || coordinates == "pytorch_half_pixel";
  const bool floor_of_ratio =
      mode == "nearest" && ((half_pixel && rounding.rfind("round_prefer_", 0) == 0) ||
                            (coordinates == "asymmetric" && rounding == "floor"));
  if (!floor_of_ratio) {
    return fmt::format(
        "resizes the time axis with mode '{}', coordinates '{}', rounding '{}' "
        "(streams only nearest with half_pixel or asymmetric+floor)",
        mode, coordinates, rounding);
  }
  if (node.inputs.size() > 3 && !node.inputs[3].empty()) {
    return "resizes the time axis to absolute sizes (only scales stream)";
  }
  return "";
}

}  // namespace

void register_pad_resize_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule("", "Pad", pad_rule);
  registry.set_stream_rule({"Resize", "Upsample"}, resize_rule);
}

}  // namespace amphora
