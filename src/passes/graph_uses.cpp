#include "passes/graph_uses.hpp"

#include <algorithm>

namespace amphora {

GraphUses::GraphUses(const Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& name : graph.nodes[i].inputs) {
      if (name.empty()) continue;
      auto& list = readers_[name];
      if (list.empty() || list.back() != i) list.push_back(i);
    }
    for (const std::string& name : graph.nodes[i].outputs) {
      if (!name.empty()) producers_[name] = static_cast<int64_t>(i);
    }
  }
  for (const ValueInfo& out : graph.outputs) outputs_.insert(out.name);
}

const std::vector<size_t>& GraphUses::readers(const std::string& value) const {
  static const std::vector<size_t> kNone;
  auto it = readers_.find(value);
  return it == readers_.end() ? kNone : it->second;
}

int64_t GraphUses::producer(const std::string& value) const {
  auto it = producers_.find(value);
  return it == producers_.end() ? -1 : it->second;
}

bool GraphUses::has_single_reader(const std::string& value) const {
  return !is_graph_output(value) && readers(value).size() == 1;
}

void renumber_nodes(Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) graph.nodes[i].index = i;
}

void replace_fused_nodes(Graph& graph, const std::set<size_t>& removed,
                         std::map<size_t, Node>& placed) {
  std::vector<Node> nodes;
  nodes.reserve(graph.nodes.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (auto it = placed.find(i); it != placed.end()) {
      nodes.push_back(std::move(it->second));
    } else if (!removed.count(i)) {
      nodes.push_back(std::move(graph.nodes[i]));
    }
  }
  graph.nodes = std::move(nodes);
  renumber_nodes(graph);
}

bool remove_nodes(Graph& graph, const std::set<size_t>& removed) {
  if (removed.empty()) return false;
  std::map<size_t, Node> none;
  replace_fused_nodes(graph, removed, none);
  return true;
}

bool is_default_domain(const Node& node) { return node.domain.empty() || node.domain == "ai.onnx"; }

bool is_op(const Node& node, const char* op, size_t inputs) {
  return is_default_domain(node) && node.op_type == op && node.inputs.size() == inputs &&
         node.outputs.size() == 1;
}

const Node* sole_reader(const Graph& graph, const GraphUses& uses, const std::set<size_t>& removed,
                        const std::string& value) {
  if (!uses.has_single_reader(value)) return nullptr;
  const size_t reader = uses.readers(value).front();
  return removed.count(reader) ? nullptr : &graph.nodes[reader];
}

const Tensor* constant_value(const Graph& graph, const GraphUses& uses, const std::string& value) {
  if (auto it = graph.initializers.find(value); it != graph.initializers.end()) return &it->second;
  const int64_t p = uses.producer(value);
  if (p < 0) return nullptr;
  const Node& node = graph.nodes[p];
  if (!is_op(node, "Constant", 0) || !node.has("value")) return nullptr;
  return &node.get_tensor("value");
}

std::string other_operand(const Node& node, const std::string& value) {
  if (node.inputs[0] == value && node.inputs[1] != value) return node.inputs[1];
  if (node.inputs[1] == value && node.inputs[0] != value) return node.inputs[0];
  return "";
}

const ValueInfo* declared_value(const Graph& graph, const std::string& value) {
  for (const ValueInfo& info : graph.inputs) {
    if (info.name == value) return &info;
  }
  for (const ValueInfo& info : graph.outputs) {
    if (info.name == value) return &info;
  }
  auto it = graph.value_info.find(value);
  return it == graph.value_info.end() ? nullptr : &it->second;
}

std::string unused_name(const Graph& graph, const std::string& base) {
  std::set<std::string> taken;
  for (const Node& node : graph.nodes) taken.insert(node.outputs.begin(), node.outputs.end());
  for (const ValueInfo& info : graph.inputs) taken.insert(info.name);
  std::string name = base;
  for (int i = 2; graph.initializers.count(name) || taken.count(name); ++i) {
    name = base + "_" + std::to_string(i);
  }
  return name;
}

void rename_reads(Graph& graph, const std::string& from, const std::string& to) {
  for (Node& node : graph.nodes) {
    std::replace(node.inputs.begin(), node.inputs.end(), from, to);
  }
}

}  // namespace amphora
