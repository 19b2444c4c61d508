// How quantization streams: point-wise, unless it scales per index of the time axis itself.
// DynamicQuantizeLinear takes its range from the whole input, time included, so it cannot.
#include "ops/quantize/quantize.hpp"

namespace amphora {
namespace {

std::string quantize_rule(const Node& node, const std::vector<size_t>&, const StreamQuery& query,
                          StreamNodePlan& plan) {
  const Tensor* scale = query.constant(node.inputs[1]);
  const bool per_axis = scale ? scale->numel() > 1
                              : shape_numel(query.probe_shape(node.inputs[1], 0)) > 1;
  if (per_axis &&
      normalized(node.get_int("axis", 1), query.rank(node.inputs[0])) == plan.axis) {
    return "quantizes with one scale per step of the time axis";
  }
  plan.role = StreamRole::kLocal;
  return "";
}

}  // namespace

void register_quantize_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule({"QuantizeLinear", "DequantizeLinear"}, quantize_rule);
}

}  // namespace amphora
