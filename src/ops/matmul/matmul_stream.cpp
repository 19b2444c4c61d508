// How matmuls stream: per time step (a frame-wise projection), as long as the time axis is not
// the one contracted. com.amphora's FusedMatMul (constant B) streams the same way.
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

}  // namespace

void register_matmul_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule("", "MatMul", matmul_rule);
  registry.set_stream_rule(kAmphoraDomain, "FusedMatMul", matmul_rule);
}

}  // namespace amphora
