// LeakyRelu/Relu -> Pad -> (conv)  becomes  Pad -> LeakyRelu/Relu -> (conv).
//
// MelGAN (and other torch models with nn.ReflectionPad1d) put the pad between the activation
// and the conv, which keeps fuse_conv from folding the activation into the conv's input. The
// two commute: reflect/edge padding copies values, and constant padding with 0 pads with a value
// the activation maps to itself (act(0) = 0), so moving the activation after the pad changes
// nothing but lets the next pass remove it.
#include <set>

#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

bool is_slope_activation(const Node& node) {
  return is_default_domain(node) && node.inputs.size() == 1 && node.outputs.size() == 1 &&
         (node.op_type == "Relu" || node.op_type == "LeakyRelu");
}

// The pad fills with values the activation keeps: copies of the data, or zeros.
bool pads_with_kept_values(const Graph& graph, const Node& pad) {
  const std::string mode = pad.get_string("mode", "constant");
  if (mode == "reflect" || mode == "edge") return true;
  if (mode != "constant") return false;
  if (pad.get_float("value", 0.0f) != 0.0f) return false;  // opset < 11 attribute
  if (pad.inputs.size() < 3 || pad.inputs[2].empty()) return true;
  auto it = graph.initializers.find(pad.inputs[2]);
  if (it == graph.initializers.end() || it->second.dtype() != DType::kFloat32) return false;
  for (float v : it->second.to_float_vector()) {
    if (v != 0.0f) return false;
  }
  return true;
}

}  // namespace

bool move_activation_past_pad(Graph& graph) {
  const GraphUses uses(graph);
  std::set<size_t> removed;
  for (size_t q = 0; q < graph.nodes.size(); ++q) {
    Node& pad = graph.nodes[q];
    if (!is_default_domain(pad) || pad.op_type != "Pad" || pad.outputs.size() != 1 ||
        pad.inputs.empty() || !pads_with_kept_values(graph, pad)) {
      continue;
    }
    const int64_t p = uses.producer(pad.inputs[0]);
    if (p < 0 || removed.count(static_cast<size_t>(p)) || !is_slope_activation(graph.nodes[p]) ||
        !uses.has_single_reader(pad.inputs[0])) {
      continue;
    }
    // The activation moves to just after the pad: the pad's other inputs (pads, axes) may be
    // computed between the two, and the activation's input exists before either.
    Node act = graph.nodes[p];
    const std::string padded_raw = pad.outputs[0] + "/before_" + act.op_type;
    pad.inputs[0] = act.inputs[0];
    act.inputs = {padded_raw};
    act.outputs = {pad.outputs[0]};
    pad.outputs = {padded_raw};
    graph.nodes.insert(graph.nodes.begin() + static_cast<std::ptrdiff_t>(q) + 1, std::move(act));
    graph.nodes.erase(graph.nodes.begin() + p);
    renumber_nodes(graph);
    return true;  // indices moved: the fixed-point loop calls again for the next one
  }
  return false;
}

}  // namespace amphora
