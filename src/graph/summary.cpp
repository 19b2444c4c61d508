#include "graph/summary.hpp"

#include <algorithm>
#include <map>

namespace amphora {

GraphSummary summarize(const Graph& graph) {
  GraphSummary summary;
  summary.node_count = graph.nodes.size();
  summary.initializer_count = graph.initializers.size();
  std::map<std::pair<std::string, std::string>, int64_t> counts;
  auto add_parameters = [&](const Tensor& t) {
    summary.parameters += t.numel();
    summary.parameter_bytes += static_cast<int64_t>(t.nbytes());
  };
  for (const Node& node : graph.nodes) {
    ++counts[{node.domain, node.op_type}];
    // Exporters often turn weights into Constant nodes instead of initializers.
    if (node.op_type == "Constant" && node.domain.empty()) {
      for (const auto& [name, value] : node.attributes) {
        if (const Tensor* t = std::get_if<Tensor>(&value)) add_parameters(*t);
      }
    }
  }
  for (const auto& [name, tensor] : graph.initializers) add_parameters(tensor);
  for (const auto& [key, count] : counts) summary.ops.push_back({key.first, key.second, count});
  std::stable_sort(summary.ops.begin(), summary.ops.end(),
                   [](const OpCount& a, const OpCount& b) { return a.count > b.count; });
  return summary;
}

std::string dims_to_string(const ValueInfo& value) {
  if (!value.rank_known) return "[?]";
  std::string s = "[";
  for (size_t i = 0; i < value.dims.size(); ++i) {
    if (i) s += ", ";
    const Dim& d = value.dims[i];
    s += d.is_fixed() ? std::to_string(d.value) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s + "]";
}

}  // namespace amphora
