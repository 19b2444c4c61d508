// Shape and Size of a value whose dimensions are all known (declared, or found by ONNX shape
// inference at load) become constants; fold_constants then computes what only depended on them.
// A value with a symbolic dimension (a vocoder's time axis) keeps its Shape node.
#include <algorithm>

#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

// The fixed dimensions of `value`, or nullopt when any is unknown.
std::optional<Shape> fixed_shape(const Graph& graph, const std::string& value) {
  if (auto it = graph.initializers.find(value); it != graph.initializers.end()) {
    return it->second.shape();
  }
  const ValueInfo* info = declared_value(graph, value);
  if (!info || !info->rank_known) return std::nullopt;
  Shape shape;
  for (const Dim& d : info->dims) {
    if (!d.is_fixed()) return std::nullopt;
    shape.push_back(d.value);
  }
  return shape;
}

// Shape's start/end attributes (opset 15): negative counts from the back, both clamped.
Shape shape_slice(const Node& node, const Shape& shape) {
  const auto rank = static_cast<int64_t>(shape.size());
  auto clamp = [rank](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t{0}, rank); };
  const int64_t start = clamp(node.get_int("start", 0));
  const int64_t end = clamp(node.get_int("end", rank));
  return start < end ? Shape(shape.begin() + start, shape.begin() + end) : Shape{};
}

}  // namespace

bool fold_shapes(Graph& graph) {
  std::set<size_t> folded;
  for (const Node& node : graph.nodes) {
    const bool is_shape = is_op(node, "Shape", 1);
    if (!(is_shape || is_op(node, "Size", 1))) continue;
    bool returned = false;
    for (const ValueInfo& out : graph.outputs) returned = returned || out.name == node.outputs[0];
    const std::optional<Shape> shape = fixed_shape(graph, node.inputs[0]);
    if (returned || !shape) continue;
    Tensor value;
    if (is_shape) {
      const Shape dims = shape_slice(node, *shape);
      value = Tensor(DType::kInt64, {static_cast<int64_t>(dims.size())});
      std::copy(dims.begin(), dims.end(), value.data<int64_t>());
    } else {
      value = Tensor(DType::kInt64, {});
      value.data<int64_t>()[0] = shape_numel(*shape);
    }
    graph.initializers[node.outputs[0]] = std::move(value);
    folded.insert(node.index);
  }
  return remove_nodes(graph, folded);
}

}  // namespace amphora
