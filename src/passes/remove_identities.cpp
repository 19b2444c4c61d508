// Nodes that pass their input through unchanged go: Identity, Dropout (inference: its mask
// output unread), a Cast to the type the value already has, and arithmetic with a neutral
// constant (x * 1, x / 1, x + 0, x - 0) that does not broadcast x to a larger shape. Exporters
// leave them behind (torch.onnx writes an Identity for every weight shared by two modules; a
// model traced in training mode keeps its Dropouts; BigVGAN's Snake multiplies by exp(0) = 1
// until its alphas are trained).
//
// Readers of the output read the input instead. When the output is a graph output, the input's
// producer writes it under the output's name instead, so the graph's outputs keep their names;
// an Identity from a graph input or initializer straight to a graph output stays.
#include <algorithm>
#include <map>

#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

std::optional<DType> value_dtype(const Graph& graph, const std::string& value) {
  if (auto it = graph.initializers.find(value); it != graph.initializers.end()) {
    return it->second.dtype();
  }
  const ValueInfo* info = declared_value(graph, value);
  return info ? std::optional<DType>(info->dtype) : std::nullopt;
}

// Every value of `t` equals `neutral`.
bool all_equal(const Tensor& t, float neutral) {
  if (t.dtype() != DType::kFloat32) return false;
  const float* v = t.data<float>();
  return std::all_of(v, v + t.numel(), [neutral](float x) { return x == neutral; });
}

// Broadcasting `constant` against `value` leaves value's shape as it is: each of the constant's
// dims is 1 or the (known, fixed) dim of value it lines up with.
bool broadcast_keeps_shape(const Graph& graph, const std::string& value, const Tensor& constant) {
  const ValueInfo* info = declared_value(graph, value);
  if (!info || !info->rank_known || info->dtype != DType::kFloat32) return false;
  const size_t rank = info->dims.size();
  if (static_cast<size_t>(constant.rank()) > rank) return false;
  for (size_t i = 0; i < static_cast<size_t>(constant.rank()); ++i) {
    const int64_t d = constant.shape()[constant.rank() - 1 - i];
    const Dim& dim = info->dims[rank - 1 - i];
    if (d != 1 && !(dim.is_fixed() && dim.value == d)) return false;
  }
  return true;
}

// For x * 1, 1 * x, x / 1, x + 0, 0 + x, x - 0: the operand x; otherwise "".
std::string neutral_operand(const Graph& graph, const GraphUses& uses, const Node& node) {
  static const std::map<std::string, float> kNeutral = {
      {"Mul", 1.0f}, {"Div", 1.0f}, {"Add", 0.0f}, {"Sub", 0.0f}};
  const auto op = kNeutral.find(node.op_type);
  if (op == kNeutral.end() || node.inputs.size() != 2) return "";
  const bool commutes = node.op_type == "Mul" || node.op_type == "Add";
  for (size_t k : {size_t{1}, size_t{0}}) {
    if (k == 0 && !commutes) break;
    const Tensor* c = constant_value(graph, uses, node.inputs[k]);
    const std::string& x = node.inputs[1 - k];
    if (c && all_equal(*c, op->second) && broadcast_keeps_shape(graph, x, *c)) return x;
  }
  return "";
}

// The input the node passes through unchanged, or "".
std::string passes_through(const Graph& graph, const GraphUses& uses, const Node& node) {
  if (!is_default_domain(node) || node.inputs.empty() || node.inputs[0].empty() ||
      node.outputs.empty()) {
    return "";
  }
  const std::string& x = node.inputs[0];
  if (node.op_type == "Identity") return x;
  if (std::string operand = neutral_operand(graph, uses, node); !operand.empty()) return operand;
  if (node.op_type == "Dropout") {
    // From opset 12 a training_mode input may turn it on; only an absent or constant false one
    // is the identity.
    if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
      const Tensor* mode = constant_value(graph, uses, node.inputs[2]);
      if (!mode || mode->numel() != 1 || mode->dtype() != DType::kBool || mode->data<bool>()[0]) {
        return "";
      }
    }
    const bool mask_unread =
        node.outputs.size() < 2 || node.outputs[1].empty() ||
        (uses.readers(node.outputs[1]).empty() && !uses.is_graph_output(node.outputs[1]));
    return mask_unread ? x : "";
  }
  if (node.op_type == "Cast" && node.has("to")) {
    const std::optional<DType> from = value_dtype(graph, x);
    if (!from) return "";
    try {
      return dtype_from_onnx(static_cast<int>(node.get_int("to"))) == *from ? x : "";
    } catch (const Error&) {
      return "";  // a type amphora does not store is not the one the value has
    }
  }
  return "";
}

}  // namespace

bool remove_identities(Graph& graph) {
  bool changed = false;
  // Who reads what changes only when a node goes: built again then, not per node.
  std::optional<GraphUses> current;
  for (size_t i = 0; i < graph.nodes.size();) {
    if (!current) current.emplace(graph);
    const GraphUses& uses = *current;
    const Node& node = graph.nodes[i];
    const std::string in = passes_through(graph, uses, node);
    if (in.empty()) {
      ++i;
      continue;
    }
    const std::string out = node.outputs[0];
    if (!uses.is_graph_output(out)) {
      rename_reads(graph, out, in);
    } else {
      const int64_t producer = uses.producer(in);
      if (producer < 0 || uses.is_graph_output(in)) {
        ++i;
        continue;
      }
      for (std::string& name : graph.nodes[producer].outputs) {
        if (name == in) name = out;
      }
      rename_reads(graph, in, out);
    }
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    renumber_nodes(graph);
    current.reset();
    changed = true;
  }
  return changed;
}

}  // namespace amphora
