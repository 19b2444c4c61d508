// A linear layer as exported, MatMul(x, W) -> Add(bias), followed by either the exact GELU
//   Mul(Mul(h, Add(Erf(Div(h, sqrt 2)), 1)), 0.5)
// or a per-column scale Mul(gamma) (Vocos' layer scale), -> one com.amphora FusedMatMul
// (ops/matmul/matmul_fused.hpp). The scale is folded into new weights and bias: (xW + b) * g =
// x (W g) + b g. W, bias and gamma must be constants; every absorbed value but h (read by the
// GELU's Div and Mul) has exactly one reader and is not a graph output. The fused node takes the
// place of the last node it absorbs. An int8 FusedMatMul (fuse_int8.cpp) starts a chain too; its
// int8 weights stay and the layer scale goes into its per-column weight scales.
#include <algorithm>
#include <cmath>
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

bool is_scalar(const Tensor* t, float value, float tolerance = 0.0f) {
  return t && t->dtype() == DType::kFloat32 && t->numel() == 1 &&
         std::fabs(t->to_float_vector()[0] - value) <= tolerance;
}

// A per-column constant: n float values of shape [n]. (A [1, n] one could add an axis to the
// result, which the fused node would not.)
bool per_column(const Tensor* t, int64_t n) {
  return t && t->dtype() == DType::kFloat32 && t->rank() == 1 && t->dim(0) == n;
}

class Matcher {
 public:
  Matcher(const Graph& graph, const GraphUses& uses, const std::set<size_t>& removed)
      : graph_(graph), uses_(uses), removed_(removed) {}

  const Tensor* constant(const std::string& value) const {
    return constant_value(graph_, uses_, value);
  }
  // The node that alone reads `value`, if it is `op` with `inputs` inputs and not yet absorbed.
  const Node* only_reader(const std::string& value, const char* op, size_t inputs) const {
    const Node* reader = sole_reader(graph_, uses_, removed_, value);
    return reader && is_op(*reader, op, inputs) ? reader : nullptr;
  }

  // The GELU chain reading h; fills `nodes` and returns its output, or "" when it is not one.
  std::string gelu(const std::string& h, std::vector<size_t>& nodes) const {
    const std::vector<size_t>& readers = uses_.readers(h);
    if (readers.size() != 2 || uses_.is_graph_output(h)) return "";
    for (int first = 0; first < 2; ++first) {
      const Node& div = graph_.nodes[readers[first]];
      const Node& mul = graph_.nodes[readers[1 - first]];
      if (!is_op(div, "Div", 2) || div.inputs[0] != h || !is_op(mul, "Mul", 2)) continue;
      if (!is_scalar(constant(div.inputs[1]), std::sqrt(2.0f), 1e-6f)) continue;
      const Node* erf = only_reader(div.outputs[0], "Erf", 1);
      const Node* plus_one = erf ? only_reader(erf->outputs[0], "Add", 2) : nullptr;
      if (!plus_one || !is_scalar(constant(other_operand(*plus_one, erf->outputs[0])), 1.0f)) {
        continue;
      }
      if (other_operand(mul, plus_one->outputs[0]) != h) continue;
      const Node* half = only_reader(mul.outputs[0], "Mul", 2);
      if (!half || !is_scalar(constant(other_operand(*half, mul.outputs[0])), 0.5f)) continue;
      nodes.insert(nodes.end(), {div.index, erf->index, plus_one->index, mul.index, half->index});
      return half->outputs[0];
    }
    return "";
  }

 private:
  const Graph& graph_;
  const GraphUses& uses_;
  const std::set<size_t>& removed_;
};

// A new initializer name based on `base` that neither the graph nor `pending` uses yet.
std::string fresh_name(const Graph& graph, const std::map<std::string, Tensor>& pending,
                       const std::string& base) {
  std::string name = base;
  for (int i = 1; graph.initializers.count(name) || pending.count(name); ++i) {
    name = base + "_" + std::to_string(i);
  }
  return name;
}

// An int8 FusedMatMul (fuse_int8.cpp) with nothing fused into it yet: starts a chain as a
// MatMul does.
bool is_bare_int8_matmul(const Node& node) {
  return node.domain == kAmphoraDomain && node.op_type == "FusedMatMul" &&
         (node.has("x_scale") || node.has("x_dynamic")) && !node.has("activation") &&
         node.inputs.size() == 2 && node.outputs.size() == 1;
}

// w_scale[j] *= gamma[j] on an int8 FusedMatMul: (x W + b) g = x (W g) + b g. False (nothing
// changed) when a product is not a usable scale.
bool fold_scale_into_int8(const Tensor& gamma, Node& fused) {
  std::vector<float> scales = fused.get_floats("w_scale");
  const int64_t n = gamma.numel();
  if (scales.size() == 1) scales.assign(n, scales[0]);
  if (static_cast<int64_t>(scales.size()) != n) return false;
  for (int64_t j = 0; j < n; ++j) {
    scales[j] *= gamma.data<float>()[j];
    if (!std::isfinite(scales[j]) || scales[j] == 0.0f) return false;
  }
  fused.attributes["w_scale"] = scales;
  return true;
}

}  // namespace

bool fuse_matmul(Graph& graph) {
  if (graph.opset() < 7) return false;  // numpy broadcasting of Add/Mul
  const GraphUses uses(graph);
  std::set<size_t> removed;
  std::map<size_t, Node> placed;
  std::map<std::string, Tensor> scaled;  // new initializers, added after the walk
  const Matcher match(graph, uses, removed);
  for (const Node& matmul : graph.nodes) {
    const bool int8 = is_bare_int8_matmul(matmul);
    if ((!is_op(matmul, "MatMul", 2) && !int8) || removed.count(matmul.index)) continue;
    const Tensor* weights = match.constant(matmul.inputs[1]);
    if (!weights || weights->dtype() != (int8 ? DType::kInt8 : DType::kFloat32) ||
        weights->rank() != 2) {
      continue;
    }
    const int64_t n = weights->dim(1);
    const Node* add = match.only_reader(matmul.outputs[0], "Add", 2);
    if (!add) continue;
    const std::string bias = other_operand(*add, matmul.outputs[0]);
    if (!per_column(match.constant(bias), n)) continue;

    Node fused = int8 ? matmul : Node{};  // an int8 one keeps x_scale and w_scale
    fused.name = matmul.name;
    fused.domain = kAmphoraDomain;
    fused.op_type = "FusedMatMul";
    fused.inputs = {matmul.inputs[0], matmul.inputs[1], bias};
    std::vector<size_t> absorbed = {matmul.index, add->index};
    std::string output = add->outputs[0];
    if (std::string activated = match.gelu(output, absorbed); !activated.empty()) {
      fused.attributes["activation"] = std::string("Gelu");
      output = activated;
    } else if (const Node* scale = match.only_reader(output, "Mul", 2)) {
      const std::string gamma_name = other_operand(*scale, output);
      const Tensor* gamma = match.constant(gamma_name);
      if (int8 && per_column(gamma, n) && fold_scale_into_int8(*gamma, fused)) {
        // int8 weights stay: gamma goes into the per-column weight scales (and the bias).
        Tensor b = Tensor(DType::kFloat32, {n});
        const float* g = gamma->data<float>();
        const float* b0 = match.constant(bias)->data<float>();
        for (int64_t j = 0; j < n; ++j) b.data<float>()[j] = b0[j] * g[j];
        fused.inputs[2] = fresh_name(graph, scaled, bias + "_scaled");
        scaled[fused.inputs[2]] = std::move(b);
        absorbed.push_back(scale->index);
        output = scale->outputs[0];
      } else if (!int8 && per_column(gamma, n)) {
        // Scaled in place when this MatMul alone reads the initializer: Vocos' scaled matrices
        // are half its weights, and a copy would double their memory and load time.
        const auto it = graph.initializers.find(matmul.inputs[1]);
        const bool in_place = it != graph.initializers.end() && it->second.sole_owner() &&
                              uses.readers(matmul.inputs[1]).size() == 1;
        Tensor w = in_place ? it->second : weights->clone();
        Tensor b = Tensor(DType::kFloat32, {n});
        const float* g = gamma->data<float>();
        const float* b0 = match.constant(bias)->data<float>();
        float* wp = w.data<float>();
        for (int64_t row = 0; row < w.dim(0); ++row) {
          for (int64_t j = 0; j < n; ++j) wp[row * n + j] *= g[j];
        }
        for (int64_t j = 0; j < n; ++j) b.data<float>()[j] = b0[j] * g[j];
        if (!in_place) {
          fused.inputs[1] = fresh_name(graph, scaled, matmul.inputs[1] + "_scaled");
          scaled[fused.inputs[1]] = std::move(w);
        }
        fused.inputs[2] = fresh_name(graph, scaled, bias + "_scaled");
        scaled[fused.inputs[2]] = std::move(b);
        absorbed.push_back(scale->index);
        output = scale->outputs[0];
      }
    }
    fused.outputs = {output};
    removed.insert(absorbed.begin(), absorbed.end());
    placed[*std::max_element(absorbed.begin(), absorbed.end())] = std::move(fused);
  }
  if (removed.empty()) return false;
  for (auto& [name, tensor] : scaled) graph.initializers[name] = std::move(tensor);
  replace_fused_nodes(graph, removed, placed);
  graph.opset_imports[kAmphoraDomain] = 1;
  return true;
}

}  // namespace amphora
