// Keeps ConvNeXt blocks (Vocos' backbone) in channels-last layout. Exported, a block is
//   x [N, C, T] -> Conv(depthwise, stride 1, same length) -> Transpose(0, 2, 1) -> LayerNorm(-1)
//     -> FusedMatMul(Gelu) -> FusedMatMul -> Transpose(0, 2, 1) -> Add(x, .)
// (fuse_matmul.cpp has already folded the linear layers, their GELU and the layer scale). It
// becomes
//   x_tc = Transpose(x)   -> DwConvLayerNorm(x_tc) -> FusedMatMul(Gelu) -> FusedMatMul(Sum = x_tc)
//     -> Transpose(0, 2, 1) -> the block's output,
// and a Transpose that undoes the Transpose it reads is bypassed: its readers take the inner
// Transpose's input. Between consecutive blocks the inserted Transpose meets the previous
// block's closing one, so both fall away (dead_nodes.cpp) and the residual stream stays
// [N, T, C] from the first block to the last; the LayerNorms around the backbone read it
// directly. The streamer follows the result: DwConvLayerNorm streams as a conv along axis 1 and
// FusedMatMul's residual as a point-wise input.
#include <map>
#include <optional>
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

const std::vector<int64_t> kSwapLastTwo = {0, 2, 1};

bool is_swap_transpose(const Node& node) {
  return is_op(node, "Transpose", 1) && node.has("perm") && node.get_ints("perm") == kSwapLastTwo;
}

bool is_fused_matmul(const Node& node) {
  return node.domain == kAmphoraDomain && node.op_type == "FusedMatMul" &&
         node.outputs.size() == 1 && node.inputs.size() >= 2 && node.inputs.size() <= 3;
}

// A float constant with exactly `n` values along one axis ([n]).
bool has_values(const Tensor* t, int64_t n) {
  return t && t->dtype() == DType::kFloat32 && t->rank() == 1 && t->dim(0) == n;
}

// One block's nodes, by role.
struct Block {
  const Node* conv = nullptr;
  const Node* to_channels_last = nullptr;
  const Node* norm = nullptr;
  const Node* fc1 = nullptr;
  const Node* fc2 = nullptr;
  const Node* to_channels_first = nullptr;
  const Node* add = nullptr;
};

// The block starting at `conv`, or nullopt.
std::optional<Block> match_block(const Graph& graph, const GraphUses& uses,
                                 const std::set<size_t>& removed, const Node& conv) {
  if (!is_default_domain(conv) || conv.op_type != "Conv" || conv.outputs.size() != 1 ||
      conv.inputs.size() < 2 || conv.inputs.size() > 3) {
    return std::nullopt;
  }
  const Tensor* w = constant_value(graph, uses, conv.inputs[1]);
  if (!w || w->dtype() != DType::kFloat32 || w->rank() != 3 || w->dim(1) != 1) return std::nullopt;
  const int64_t channels = w->dim(0), kernel = w->dim(2);
  if (kernel > 64) return std::nullopt;  // DwConvLayerNorm's limit
  if (conv.get_int("group", 1) != channels) return std::nullopt;
  if (conv.inputs.size() == 3 && !conv.inputs[2].empty() &&
      !has_values(constant_value(graph, uses, conv.inputs[2]), channels)) {
    return std::nullopt;
  }
  const std::vector<int64_t> strides = conv.get_ints("strides", {1});
  const std::vector<int64_t> dilations = conv.get_ints("dilations", {1});
  const std::vector<int64_t> pads = conv.get_ints("pads", {0, 0});
  if (conv.get_string("auto_pad", "NOTSET") != "NOTSET" || strides != std::vector<int64_t>{1} ||
      dilations.size() != 1 || pads.size() != 2 ||
      (conv.has("kernel_shape") && conv.get_ints("kernel_shape") != std::vector<int64_t>{kernel}) ||
      pads[0] + pads[1] != dilations[0] * (kernel - 1)) {
    return std::nullopt;  // the residual needs the conv to keep the length
  }
  Block b;
  b.conv = &conv;
  b.to_channels_last = sole_reader(graph, uses, removed, conv.outputs[0]);
  if (!b.to_channels_last || !is_swap_transpose(*b.to_channels_last)) return std::nullopt;
  b.norm = sole_reader(graph, uses, removed, b.to_channels_last->outputs[0]);
  if (!b.norm || !is_default_domain(*b.norm) || b.norm->op_type != "LayerNormalization" ||
      b.norm->outputs.size() != 1 || b.norm->inputs.size() < 2 || b.norm->inputs.size() > 3 ||
      b.norm->inputs[0] != b.to_channels_last->outputs[0] ||
      (b.norm->get_int("axis", -1) != -1 && b.norm->get_int("axis", -1) != 2) ||
      b.norm->get_int("stash_type", 1) != 1 ||
      !has_values(constant_value(graph, uses, b.norm->inputs[1]), channels) ||
      (b.norm->inputs.size() == 3 && !b.norm->inputs[2].empty() &&
       !has_values(constant_value(graph, uses, b.norm->inputs[2]), channels))) {
    return std::nullopt;
  }
  b.fc1 = sole_reader(graph, uses, removed, b.norm->outputs[0]);
  if (!b.fc1 || !is_fused_matmul(*b.fc1) || b.fc1->inputs[0] != b.norm->outputs[0]) {
    return std::nullopt;
  }
  b.fc2 = sole_reader(graph, uses, removed, b.fc1->outputs[0]);
  if (!b.fc2 || !is_fused_matmul(*b.fc2) || b.fc2->inputs[0] != b.fc1->outputs[0] ||
      b.fc2->has("activation")) {
    return std::nullopt;
  }
  const Tensor* w1 = constant_value(graph, uses, b.fc1->inputs[1]);
  const Tensor* w2 = constant_value(graph, uses, b.fc2->inputs[1]);
  if (!w1 || w1->rank() != 2 || w1->dim(0) != channels || !w2 || w2->rank() != 2 ||
      w2->dim(1) != channels) {
    return std::nullopt;
  }
  b.to_channels_first = sole_reader(graph, uses, removed, b.fc2->outputs[0]);
  if (!b.to_channels_first || !is_swap_transpose(*b.to_channels_first)) return std::nullopt;
  b.add = sole_reader(graph, uses, removed, b.to_channels_first->outputs[0]);
  if (!b.add || !is_op(*b.add, "Add", 2) ||
      other_operand(*b.add, b.to_channels_first->outputs[0]) != conv.inputs[0]) {
    return std::nullopt;
  }
  return b;
}

// Every value name the graph uses.
std::set<std::string> value_names(const Graph& graph) {
  std::set<std::string> names;
  for (const auto& [name, tensor] : graph.initializers) names.insert(name);
  for (const auto& v : graph.inputs) names.insert(v.name);
  for (const auto& v : graph.outputs) names.insert(v.name);
  for (const Node& node : graph.nodes) {
    names.insert(node.inputs.begin(), node.inputs.end());
    names.insert(node.outputs.begin(), node.outputs.end());
  }
  return names;
}

bool rewrite_blocks(Graph& graph) {
  const GraphUses uses(graph);
  std::set<size_t> removed;
  std::vector<Block> blocks;
  for (const Node& node : graph.nodes) {
    if (removed.count(node.index)) continue;
    if (std::optional<Block> b = match_block(graph, uses, removed, node)) {
      for (const Node* n :
           {b->conv, b->to_channels_last, b->norm, b->fc1, b->fc2, b->to_channels_first, b->add}) {
        removed.insert(n->index);
      }
      blocks.push_back(*b);
    }
  }
  if (blocks.empty()) return false;
  std::set<std::string> names = value_names(graph);
  // New nodes before (and in place of) the old node at each index; nodes kept but changed.
  std::map<size_t, std::vector<Node>> at;
  for (const Block& b : blocks) {
    const std::string& x = b.conv->inputs[0];
    std::string x_tc = x + "_channels_last";
    for (int i = 1; names.count(x_tc); ++i) x_tc = x + "_channels_last_" + std::to_string(i);
    names.insert(x_tc);

    Node transpose;
    transpose.name = b.conv->name + "_to_channels_last";
    transpose.op_type = "Transpose";
    transpose.attributes["perm"] = kSwapLastTwo;
    transpose.inputs = {x};
    transpose.outputs = {x_tc};
    at[b.conv->index].push_back(std::move(transpose));

    // At the LayerNorm's place: its Scale and B may come from nodes after the conv.
    Node fused;
    fused.name = b.conv->name;
    fused.domain = kAmphoraDomain;
    fused.op_type = "DwConvLayerNorm";
    const std::string conv_bias = b.conv->inputs.size() > 2 ? b.conv->inputs[2] : "";
    fused.inputs = {x_tc, b.conv->inputs[1], conv_bias, b.norm->inputs[1]};
    if (b.norm->inputs.size() > 2 && !b.norm->inputs[2].empty()) {
      fused.inputs.push_back(b.norm->inputs[2]);
    }
    fused.outputs = b.norm->outputs;
    const Tensor* w = constant_value(graph, uses, b.conv->inputs[1]);
    fused.attributes["kernel_shape"] = std::vector<int64_t>{w->dim(2)};
    fused.attributes["pads"] = b.conv->get_ints("pads", {0, 0});
    fused.attributes["dilations"] = b.conv->get_ints("dilations", {1});
    fused.attributes["epsilon"] = b.norm->get_float("epsilon", 1e-5f);
    at[b.norm->index].push_back(std::move(fused));

    at[b.fc1->index].push_back(*b.fc1);
    Node fc2 = *b.fc2;
    fc2.inputs.resize(3);  // bias may be absent ("")
    fc2.inputs.push_back(x_tc);
    at[b.fc2->index].push_back(std::move(fc2));

    Node back = *b.to_channels_first;
    back.outputs = b.add->outputs;
    at[b.to_channels_first->index].push_back(std::move(back));
  }
  std::vector<Node> nodes;
  nodes.reserve(graph.nodes.size() + blocks.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (auto it = at.find(i); it != at.end()) {
      for (Node& n : it->second) nodes.push_back(std::move(n));
    } else if (!removed.count(i)) {
      nodes.push_back(std::move(graph.nodes[i]));
    }
  }
  graph.nodes = std::move(nodes);
  renumber_nodes(graph);
  graph.opset_imports[kAmphoraDomain] = 1;
  return true;
}

// Transpose(Transpose(z, q), p) with p after q the identity: its readers read z instead.
bool bypass_transpose_pairs(Graph& graph) {
  const GraphUses uses(graph);
  std::map<std::string, std::string> replace;
  for (const Node& outer : graph.nodes) {
    if (!is_op(outer, "Transpose", 1) || !outer.has("perm")) continue;
    if (uses.is_graph_output(outer.outputs[0]) || uses.readers(outer.outputs[0]).empty()) continue;
    const int64_t producer = uses.producer(outer.inputs[0]);
    if (producer < 0) continue;
    const Node& inner = graph.nodes[static_cast<size_t>(producer)];
    if (!is_op(inner, "Transpose", 1) || !inner.has("perm")) continue;
    const std::vector<int64_t> p = outer.get_ints("perm"), q = inner.get_ints("perm");
    if (p.size() != q.size()) continue;
    bool identity = true;
    for (size_t j = 0; j < p.size() && identity; ++j) {
      identity = p[j] >= 0 && p[j] < static_cast<int64_t>(q.size()) &&
                 q[static_cast<size_t>(p[j])] == static_cast<int64_t>(j);
    }
    if (identity) replace[outer.outputs[0]] = inner.inputs[0];
  }
  if (replace.empty()) return false;
  for (Node& node : graph.nodes) {
    for (std::string& input : node.inputs) {
      // Chains (a pair whose z is itself a bypassed output) resolve in later rounds.
      if (auto it = replace.find(input); it != replace.end()) input = it->second;
    }
  }
  return true;
}

}  // namespace

bool convnext_channels_last(Graph& graph) {
  const bool rewritten = rewrite_blocks(graph);
  return bypass_transpose_pairs(graph) || rewritten;
}

}  // namespace amphora
