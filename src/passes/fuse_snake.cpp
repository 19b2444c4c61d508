// BigVGAN's Snake/SnakeBeta as exported: Add(x, Mul(inv, Pow(Sin(Mul(x, freq)), 2))) with
// per-channel constants freq and inv -> one com.amphora Snake node (ops/elementwise/snake.hpp).
// Five passes over an activation-sized tensor (a third of a BigVGAN run) become one. Safe because
// every absorbed value has exactly one reader (the next node of the chain) and is not a graph
// output; the fused node takes the Add's place, where all its inputs exist.
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

// C per-channel float coefficients shaped [1, C, 1] (broadcast over N and T of x [N, C, T]).
bool per_channel(const Tensor* t) {
  return t && t->dtype() == DType::kFloat32 && t->rank() == 3 && t->dim(0) == 1 && t->dim(2) == 1;
}

}  // namespace

bool fuse_snake(Graph& graph) {
  if (graph.opset() < 7) return false;  // numpy broadcasting of Mul/Add
  const GraphUses uses(graph);
  std::set<size_t> removed;
  std::map<size_t, Node> placed;
  auto only_reader = [&](const std::string& value) {
    return sole_reader(graph, uses, removed, value);
  };
  for (const Node& sin : graph.nodes) {
    if (!is_op(sin, "Sin", 1) || removed.count(sin.index)) continue;
    const int64_t m = uses.producer(sin.inputs[0]);
    if (m < 0 || removed.count(m) || !uses.has_single_reader(sin.inputs[0])) continue;
    const Node& scale = graph.nodes[m];  // Mul(x, freq)
    if (!is_op(scale, "Mul", 2)) continue;
    const Tensor* f0 = constant_value(graph, uses, scale.inputs[0]);
    const Tensor* f1 = constant_value(graph, uses, scale.inputs[1]);
    const bool freq_second = per_channel(f1) && !f0;
    if (!freq_second && !(per_channel(f0) && !f1)) continue;
    const std::string x = scale.inputs[freq_second ? 0 : 1];
    const std::string freq = scale.inputs[freq_second ? 1 : 0];

    const Node* square = only_reader(sin.outputs[0]);  // Pow(s, 2)
    if (!square || !is_op(*square, "Pow", 2) || square->inputs[0] != sin.outputs[0]) continue;
    const Tensor* two = constant_value(graph, uses, square->inputs[1]);
    if (!two || two->numel() != 1 || two->to_float_vector()[0] != 2.0f) continue;
    const Node* weigh = only_reader(square->outputs[0]);  // Mul(inv, p)
    if (!weigh || !is_op(*weigh, "Mul", 2)) continue;
    const std::string inv = other_operand(*weigh, square->outputs[0]);
    const Tensor* inv_value = inv.empty() ? nullptr : constant_value(graph, uses, inv);
    if (!per_channel(inv_value) || inv_value->dim(1) != constant_value(graph, uses, freq)->dim(1)) {
      continue;
    }
    const Node* add = only_reader(weigh->outputs[0]);  // Add(x, m)
    if (!add || !is_op(*add, "Add", 2) || add->has("broadcast") ||
        other_operand(*add, weigh->outputs[0]) != x) {
      continue;
    }
    Node snake;
    snake.name = add->name.empty() ? scale.name : add->name;
    snake.domain = kAmphoraDomain;
    snake.op_type = "Snake";
    snake.inputs = {x, freq, inv};
    snake.outputs = add->outputs;
    for (size_t index : {scale.index, sin.index, square->index, weigh->index, add->index}) {
      removed.insert(index);
    }
    placed[add->index] = std::move(snake);
  }
  if (removed.empty()) return false;
  replace_fused_nodes(graph, removed, placed);
  graph.opset_imports[kAmphoraDomain] = 1;
  return true;
}

}  // namespace amphora
