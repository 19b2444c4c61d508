// Removes nodes none of whose outputs is read or returned. ONNX ops have no side effects, so
// such a node only costs time (e.g. the unused second output chains torch exports leave).
// Initializers nobody reads any more go too: the weights a rewrite replaced (fuse_matmul's
// scaled copies, fold_constants' inputs) would otherwise stay in memory for nothing.
#include <set>

#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {

bool remove_dead_nodes(Graph& graph) {
  std::set<std::string> live;
  for (const ValueInfo& out : graph.outputs) live.insert(out.name);
  std::vector<bool> keep(graph.nodes.size(), false);
  // Backwards: a node is live when any output is live, and then all its inputs are live.
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& node = graph.nodes[i];
    for (const std::string& out : node.outputs) {
      if (!out.empty() && live.count(out)) keep[i] = true;
    }
    if (!keep[i]) continue;
    for (const std::string& in : node.inputs) {
      if (!in.empty()) live.insert(in);
    }
  }
  std::vector<Node> nodes;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (keep[i]) nodes.push_back(std::move(graph.nodes[i]));
  }
  bool changed = nodes.size() != graph.nodes.size();
  graph.nodes = std::move(nodes);
  if (changed) renumber_nodes(graph);
  for (const ValueInfo& in : graph.inputs) live.insert(in.name);  // overridable defaults stay
  changed = std::erase_if(graph.initializers,
                          [&live](const auto& entry) { return !live.count(entry.first); }) ||
            changed;
  return changed;
}

}  // namespace amphora
