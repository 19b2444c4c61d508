// MatMul(A, B) + C  becomes  Gemm(A, B, C) where Gemm means the same: A a matrix (rank 2 as
// declared or inferred), B a constant matrix [K, N] and C a constant bias [N] or [1, N]. For
// `amphora optimize`, which writes standard ONNX; amphora's own runtime fuses MatMul and bias
// into FusedMatMul instead (fuse_matmul.cpp), which also takes the batched [B, T, C] MatMuls of
// vocoders.
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

bool is_matrix(const Graph& graph, const std::string& value) {
  if (auto it = graph.initializers.find(value); it != graph.initializers.end()) {
    return it->second.rank() == 2;
  }
  const ValueInfo* info = declared_value(graph, value);
  return info && info->rank_known && info->dims.size() == 2;
}

}  // namespace

bool fuse_gemm(Graph& graph) {
  const GraphUses uses(graph);
  std::set<size_t> removed;
  std::map<size_t, Node> placed;
  for (const Node& matmul : graph.nodes) {
    if (!is_op(matmul, "MatMul", 2) || !is_matrix(graph, matmul.inputs[0])) continue;
    const Tensor* b = constant_value(graph, uses, matmul.inputs[1]);
    if (!b || b->rank() != 2 || b->dtype() != DType::kFloat32) continue;
    const Node* add = sole_reader(graph, uses, removed, matmul.outputs[0]);
    if (!add || !is_op(*add, "Add", 2)) continue;
    const std::string bias = other_operand(*add, matmul.outputs[0]);
    const Tensor* c = bias.empty() ? nullptr : constant_value(graph, uses, bias);
    const int64_t n = b->shape()[1];
    if (!c || c->dtype() != DType::kFloat32 ||
        !(c->shape() == Shape{n} || c->shape() == Shape{1, n})) {
      continue;
    }
    Node gemm;
    gemm.name = matmul.name;
    gemm.op_type = "Gemm";
    gemm.inputs = {matmul.inputs[0], matmul.inputs[1], bias};
    gemm.outputs = add->outputs;
    removed.insert(matmul.index);
    removed.insert(add->index);
    placed[add->index] = std::move(gemm);
  }
  if (removed.empty()) return false;
  replace_fused_nodes(graph, removed, placed);
  return true;
}

}  // namespace amphora
