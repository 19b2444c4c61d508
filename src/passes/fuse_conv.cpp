// Conv/ConvTranspose followed by its activation and by the residual Add that consumes it, and
// preceded by a Relu/LeakyRelu whose result only convs read -> one com.amphora
// FusedConv/FusedConvTranspose node (attributes and inputs: ops/conv/conv_fused.hpp).
// The oneDNN kernel then applies the activation and the sum as post-ops while the conv's
// output is still in cache, instead of two more passes over an activation-sized tensor each.
//
// Safe because each absorbed value has exactly one reader (the next node of the chain) and is
// not a graph output, so nobody else can observe it. The one exception is the input activation:
// HiFi-GAN's multi-receptive-field block feeds the same act(x) to the first conv of each of its
// resblocks (torch.onnx shares the three identical LeakyRelus), and each of them takes it over,
// as applying it while packing X costs the conv nothing. The fused node takes the place of the
// last node it absorbs: every input of the chain (the residual included) exists by then.
#include <algorithm>
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

bool is_conv(const Node& node) {
  if (is_default_domain(node)) return node.op_type == "Conv" || node.op_type == "ConvTranspose";
  return node.domain == kAmphoraDomain &&
         (node.op_type == "FusedConv" || node.op_type == "FusedConvTranspose");
}

// Relu/LeakyRelu only: the input side applies a negative slope while packing X.
bool is_fusable_input_activation(const Node& node) {
  return is_default_domain(node) && node.inputs.size() == 1 && node.outputs.size() == 1 &&
         (node.op_type == "Relu" || node.op_type == "LeakyRelu");
}

bool is_fusable_activation(const Node& node) {
  return is_default_domain(node) && node.inputs.size() == 1 && node.outputs.size() == 1 &&
         (node.op_type == "Relu" || node.op_type == "LeakyRelu" || node.op_type == "Tanh");
}

// The Add's other operand when `node` is a numpy-broadcasting Add of `value` and something
// else; empty otherwise (opset < 7 Adds carry their own broadcast rules: left alone).
std::string residual_operand(const Node& node, const std::string& value) {
  if (!is_default_domain(node) || node.op_type != "Add" || node.inputs.size() != 2 ||
      node.outputs.size() != 1 || node.has("broadcast") || node.has("axis")) {
    return "";
  }
  const std::string& a = node.inputs[0];
  const std::string& b = node.inputs[1];
  if (a == b || a.empty() || b.empty()) return "";
  if (a == value) return b;
  if (b == value) return a;
  return "";
}

Node as_fused(const Node& conv) {
  if (!is_default_domain(conv)) return conv;
  Node fused = conv;
  fused.domain = kAmphoraDomain;
  fused.op_type = conv.op_type == "Conv" ? "FusedConv" : "FusedConvTranspose";
  return fused;
}

// Every Relu/LeakyRelu whose result only convs read, each as its X and nothing else, moves into
// those convs as their input activation.
bool fuse_input_activations(Graph& graph) {
  const GraphUses uses(graph);
  std::set<size_t> removed;
  for (Node& act : graph.nodes) {
    if (!is_fusable_input_activation(act) || uses.is_graph_output(act.outputs[0])) continue;
    const std::string& value = act.outputs[0];
    const std::vector<size_t>& readers = uses.readers(value);
    const auto takes_it = [&](size_t r) {
      const Node& conv = graph.nodes[r];
      if (!is_conv(conv) || conv.has("input_activation") || conv.inputs[0] != value) return false;
      return std::count(conv.inputs.begin(), conv.inputs.end(), value) == 1;
    };
    if (readers.empty() || !std::all_of(readers.begin(), readers.end(), takes_it)) continue;
    for (size_t r : readers) {
      Node& conv = graph.nodes[r];
      conv = as_fused(conv);
      conv.attributes["input_activation"] = act.op_type;
      if (act.op_type == "LeakyRelu")
        conv.attributes["input_alpha"] = act.get_float("alpha", 0.01f);
      conv.inputs[0] = act.inputs[0];
    }
    removed.insert(act.index);
  }
  if (removed.empty()) return false;
  std::map<size_t, Node> placed;
  replace_fused_nodes(graph, removed, placed);
  graph.opset_imports[kAmphoraDomain] = 1;
  return true;
}

}  // namespace

bool fuse_conv(Graph& graph) {
  if (graph.opset() < 7) return false;  // Add broadcasts differently before opset 7
  const bool inputs_fused = fuse_input_activations(graph);
  const GraphUses uses(graph);
  std::set<size_t> removed;
  std::map<size_t, Node> placed;  // position of the last absorbed node -> fused node
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& conv = graph.nodes[i];
    if (removed.count(i) || !is_conv(conv) || conv.outputs.size() != 1) continue;
    Node fused = as_fused(conv);
    std::string value = conv.outputs[0];
    std::vector<size_t> absorbed;
    auto single_reader = [&] { return sole_reader(graph, uses, removed, value); };
    const bool has_sum = fused.inputs.size() > 3 && !fused.inputs[3].empty();
    if (!fused.has("activation") && !has_sum) {
      if (const Node* act = single_reader(); act && is_fusable_activation(*act)) {
        fused.attributes["activation"] = act->op_type;
        if (act->op_type == "LeakyRelu") fused.attributes["alpha"] = act->get_float("alpha", 0.01f);
        absorbed.push_back(act->index);
        value = act->outputs[0];
      }
    }
    if (!has_sum) {
      if (const Node* add = single_reader()) {
        if (std::string residual = residual_operand(*add, value); !residual.empty()) {
          fused.inputs.resize(3);  // an absent bias stays an empty name
          fused.inputs.push_back(residual);
          absorbed.push_back(add->index);
          value = add->outputs[0];
        }
      }
    }
    if (absorbed.empty()) continue;
    fused.outputs = {value};
    removed.insert(i);
    removed.insert(absorbed.begin(), absorbed.end());
    placed[absorbed.back()] = std::move(fused);
  }
  if (removed.empty()) return inputs_fused;
  replace_fused_nodes(graph, removed, placed);
  graph.opset_imports[kAmphoraDomain] = 1;
  return true;
}

}  // namespace amphora
