#include "ops/stream_rule.hpp"

namespace amphora {

std::string stream_pointwise(const Node&, const std::vector<size_t>&, const StreamQuery&,
                             StreamNodePlan& plan) {
  plan.role = StreamRole::kLocal;
  return "";
}

StreamRule stream_unless_along_time(int64_t default_axis) {
  return [default_axis](const Node& node, const std::vector<size_t>& streams,
                        const StreamQuery& query, StreamNodePlan& plan) -> std::string {
    if (streams[0] == 0) {
      const int64_t rank = query.rank(node.inputs[0]);
      if (normalized(node.get_int("axis", default_axis), rank) == plan.axis) {
        return "works along the time axis";
      }
    }
    plan.role = StreamRole::kLocal;
    return "";
  };
}

int64_t normalized(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

std::vector<int64_t> constant_ints(const Node& node, size_t input, const StreamQuery& query,
                                   const char* what, std::string& why) {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return {};
  const Tensor* value = query.constant(node.inputs[input]);
  if (!value) {
    if (why.empty()) why = fmt::format("its {} depend on the input", what);
    return {};
  }
  return value->to_int64_vector();
}

}  // namespace amphora
