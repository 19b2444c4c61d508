// How reductions stream: local while they leave the time axis alone; CumSum along time
// carries its running sum from step to step.
#include "ops/reduce/reduce.hpp"

namespace amphora {

namespace {

std::string reduce_rule(const Node& node, const std::vector<size_t>& streams,
                        const StreamQuery& query, StreamNodePlan& plan) {
  std::vector<int64_t> axes = node.get_ints("axes");
  std::string why;
  if (axes.empty()) axes = constant_ints(node, 1, query, "axes", why);
  if (!why.empty()) return why;
  if (axes.empty()) return "reduces over every axis, time included";
  const int64_t rank = query.rank(node.inputs[streams[0]]);
  for (int64_t axis : axes) {
    if (normalized(axis, rank) == plan.axis) return "reduces over the time axis";
  }
  plan.role = StreamRole::kLocal;
  return "";
}

std::string layer_norm_rule(const Node& node, const std::vector<size_t>& streams,
                            const StreamQuery& query, StreamNodePlan& plan) {
  const int64_t axis = normalized(node.get_int("axis", -1), query.rank(node.inputs[streams[0]]));
  if (plan.axis >= axis) return "normalises over the time axis";
  plan.role = StreamRole::kLocal;
  return "";
}

std::string cumsum_rule(const Node& node, const std::vector<size_t>&, const StreamQuery& query,
                        StreamNodePlan& plan) {
  std::string why;
  std::vector<int64_t> axis = constant_ints(node, 1, query, "axis", why);
  if (axis.size() != 1) return "CumSum axis must be a constant";
  if (normalized(axis[0], query.rank(node.inputs[0])) != plan.axis) {
    plan.role = StreamRole::kLocal;
    return "";
  }
  if (node.get_int("exclusive", 0) || node.get_int("reverse", 0)) {
    return "exclusive or reverse CumSum along time";
  }
  plan.role = StreamRole::kCumSum;
  return "";
}

}  // namespace

void register_reduce_stream_rules(OpRegistry& registry) {
  registry.set_stream_rule({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceL2", "ReduceMin",
                            "ReduceProd", "ReduceSumSquare"},
                           reduce_rule);
  registry.set_stream_rule({"Softmax", "LogSoftmax"}, stream_unless_along_time(-1));
  registry.set_stream_rule("", "LayerNormalization", layer_norm_rule);
  registry.set_stream_rule("", "CumSum", cumsum_rule);
}

}  // namespace amphora
