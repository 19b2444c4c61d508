// How matmuls stream: per time step (a frame-wise projection), as long as the time axis is not
// the one contracted. com.amphora's FusedMatMul (constant B) streams the same way; its residual
// Sum, shaped like the output, may be a second time series.
#include "ops/amphora_domain.hpp"
#include "ops/matmul/matmul_fused.hpp"

namespace amphora {

namespace {

std::string matmul_rule(const Node& node, const std::vector<size_t>& streams,
                        const StreamQuery& query, StreamNodePlan& plan) {
  if (streams.size() > 1) return "multiplies two time series";
  const int64_t rank = query.rank(node.inputs[streams[0]]);
  if (streams[0] == 0 && plan.axis == rank - 1) return "contracts the time axis";
  if (streams[0] == 1 && plan.axis == rank - 2) return "contracts the time axis";
  plan.role = StreamRole::kLocal;
  return "";
}

std::string fused_matmul_rule(const Node& node, const std::vector<size_t>& streams,
                              const StreamQuery& query, StreamNodePlan& plan) {
  if (node.has("x_dynamic")) {
    return "it quantizes A with the range of the whole input (DynamicQuantizeLinear)";
  }
  std::vector<size_t> operands;
  for (size_t s : streams) {
    if (s != 3) {
      operands.push_back(s);
    } else if (query.time_axis(node.inputs[3]) != query.time_axis(node.outputs[0])) {
      return "its residual's time axis is not the output's";
    }
  }
  if (operands.empty()) {
    plan.role = StreamRole::kLocal;
    return "";
  }
  return matmul_rule(node, operands, query, plan);
}

}  // namespace

void register_matmul_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule("", "MatMul", matmul_rule);
  registry.set_stream_rule(kAmphoraDomain, "FusedMatMul", fused_matmul_rule);
}

}  // namespace amphora
