// QDQ-quantized Conv / ConvTranspose / MatMul -> the int8 com.amphora FusedConv /
// FusedConvTranspose / FusedMatMul (attributes x_scale and w_scale, W int8: ops/int8/int8.hpp),
// which run oneDNN's int8 primitives instead of the reference QuantizeLinear / DequantizeLinear
// kernels and a float conv. The pattern, as `amphora quantize --int8` writes it (static,
// calibrated, symmetric):
//   x -> QuantizeLinear(x_scale, int8 0) -> DequantizeLinear(same) -> op input 0
//   int8 W -> DequantizeLinear(w_scale, int8 zeros, axis = the output channels') -> op input 1
// Offline, also the dynamic variant (no calibration): x -> DynamicQuantizeLinear -> (uint8,
// scale, zero point) -> DequantizeLinear -> op input 0, which becomes the int8 node with
// x_dynamic = 1 (the kernel computes the range of X on each run, as DynamicQuantizeLinear). Not
// for the streamer, which refuses DynamicQuantizeLinear: its range spans the whole input.
// Only that exact pattern: a scalar positive x_scale equal on both sides with an int8 zero point
// of 0, constant int8 weights of a 1-D conv ([OC, IC/g, k] or [IC, OC/g, k]) or a matrix [K, N],
// per-output-channel (or per-tensor) positive weight scales with zero zero points. Anything else
// keeps the reference path, which is always correct.
//
// The op reads x itself and its int8 W; the Q/DQ nodes stay for any other reader (what they
// compute does not change) and are dropped as dead otherwise. Rewriting one reader of a shared
// Q -> DQ never changes what the others see, so each matching reader is rewritten. The rewritten
// conv is an ordinary FusedConv to the passes after this one: fuse_conv then takes the
// LeakyRelu before the quantization as its input activation (the kernel applies it before
// quantizing, as the graph did) and its activation and residual Add as post-ops.
//
// Runs first in every round, before fold_constants, which would otherwise turn the weights'
// DequantizeLinear into a float initializer (for weights of up to 65536 values).
#include <algorithm>
#include <cmath>
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

class Int8Matcher {
 public:
  Int8Matcher(const Graph& graph, const GraphUses& uses, bool dynamic)
      : graph_(graph), uses_(uses), dynamic_(dynamic) {
    for (const ValueInfo& input : graph.inputs) overridable_.insert(input.name);
  }

  // The float X behind `value` = DequantizeLinear(QuantizeLinear(X)) with one int8 scale and a
  // zero point of 0 on both (sets x_scale), or, where dynamic ones are wanted,
  // DequantizeLinear(DynamicQuantizeLinear(X)) with all three of its outputs (sets dynamic).
  std::string quantized_input(const std::string& value, float& x_scale, bool& dynamic) const {
    const Node* dq = producer(value, "DequantizeLinear");
    if (!dq || dq->inputs.size() != 3) return "";
    if (const int64_t p = uses_.producer(dq->inputs[0]); dynamic_ && p >= 0) {
      const Node& dql = graph_.nodes[p];
      if (is_default_domain(dql) && dql.op_type == "DynamicQuantizeLinear" &&
          dql.inputs.size() == 1 && dql.outputs.size() == 3 &&
          std::equal(dq->inputs.begin(), dq->inputs.end(), dql.outputs.begin())) {
        dynamic = true;
        return dql.inputs[0];
      }
    }
    const Node* q = producer(dq->inputs[0], "QuantizeLinear");
    if (!q || q->inputs.size() != 3 || q->get_int("block_size", 0) != 0 || q->has("output_dtype")) {
      return "";
    }
    const Tensor* scale = constant(dq->inputs[1]);
    const Tensor* q_scale = constant(q->inputs[1]);
    if (!scalar_scale(scale) || !scalar_scale(q_scale) ||
        scale->data<float>()[0] != q_scale->data<float>()[0] || !zero_int8(dq->inputs[2], 1) ||
        !zero_int8(q->inputs[2], 1)) {
      return "";
    }
    x_scale = scale->data<float>()[0];
    return q->inputs[0];
  }

  // The int8 constant behind `value` = DequantizeLinear(W, scale, zeros, axis) with W of rank
  // `rank` and its scales along `axis` (or one scale); sets `scales` (one per index of `axis`,
  // or one) and `w`.
  std::string quantized_weights(const std::string& value, int64_t rank, int64_t axis,
                                std::vector<float>& scales, const Tensor*& w) const {
    const Node* dq = producer(value, "DequantizeLinear");
    if (!dq || dq->inputs.size() < 2 || dq->get_int("block_size", 0) != 0) return "";
    w = constant(dq->inputs[0]);
    const Tensor* scale = constant(dq->inputs[1]);
    if (!w || w->dtype() != DType::kInt8 || w->rank() != rank || !scale ||
        scale->dtype() != DType::kFloat32) {
      return "";
    }
    if (scale->numel() != 1) {
      const int64_t dq_axis = dq->get_int("axis", 1);
      if (scale->rank() != 1 || (dq_axis != axis && dq_axis != axis - rank) ||
          scale->numel() != w->dim(axis)) {
        return "";
      }
    }
    if (dq->inputs.size() > 2 && !dq->inputs[2].empty() &&
        !zero_int8(dq->inputs[2], scale->numel())) {
      return "";
    }
    scales = scale->to_float_vector();
    for (float s : scales) {
      if (!usable(s)) return "";
    }
    return dq->inputs[0];
  }

 private:
  const Node* producer(const std::string& value, const char* op) const {
    const int64_t p = uses_.producer(value);
    if (p < 0) return nullptr;
    const Node& node = graph_.nodes[p];
    return is_default_domain(node) && node.op_type == op && node.outputs.size() == 1 ? &node
                                                                                     : nullptr;
  }
  const Tensor* constant(const std::string& value) const {
    return value.empty() || overridable_.count(value) ? nullptr
                                                      : constant_value(graph_, uses_, value);
  }
  static bool usable(float s) { return std::isfinite(s) && s > 0.0f; }
  static bool scalar_scale(const Tensor* t) {
    return t && t->dtype() == DType::kFloat32 && t->numel() == 1 && t->rank() <= 1 &&
           usable(t->data<float>()[0]);
  }
  // An int8 constant of n zeros (the shape of the scale it goes with).
  bool zero_int8(const std::string& value, int64_t n) const {
    const Tensor* t = constant(value);
    if (!t || t->dtype() != DType::kInt8 || t->numel() != n) return false;
    for (int64_t i = 0; i < n; ++i) {
      if (t->data<int8_t>()[i] != 0) return false;
    }
    return true;
  }

  const Graph& graph_;
  const GraphUses& uses_;
  bool dynamic_;
  std::set<std::string> overridable_;
};

// The int8 form of `node` (a default-domain Conv, ConvTranspose or MatMul), or false.
bool rewrite(const Int8Matcher& match, Node& node) {
  const bool conv = node.op_type == "Conv", transpose = node.op_type == "ConvTranspose";
  const bool matmul = node.op_type == "MatMul";
  if (!is_default_domain(node) || node.outputs.size() != 1 || !(conv || transpose || matmul) ||
      node.inputs.size() < 2 || node.inputs.size() > (matmul ? 2 : 3)) {
    return false;
  }
  float x_scale = 0.0f;
  bool dynamic = false;
  const std::string x = match.quantized_input(node.inputs[0], x_scale, dynamic);
  if (x.empty()) return false;
  std::vector<float> scales;
  const Tensor* w = nullptr;
  // Output channels: axis 0 of Conv W [OC, IC/g, k], axis 1 of ConvTranspose W [IC, OC/g, k]
  // and of MatMul B [K, N].
  const std::string w_q =
      match.quantized_weights(node.inputs[1], matmul ? 2 : 3, conv ? 0 : 1, scales, w);
  if (w_q.empty()) return false;
  if (transpose && scales.size() > 1) {
    // The scales index OC/g; output channel gi * OC/g + j of every group gi takes scale j.
    const int64_t group = node.get_int("group", 1);
    std::vector<float> per_channel;
    for (int64_t gi = 0; gi < group; ++gi)
      per_channel.insert(per_channel.end(), scales.begin(), scales.end());
    scales = std::move(per_channel);
  }
  node.domain = kAmphoraDomain;
  node.op_type = conv ? "FusedConv" : transpose ? "FusedConvTranspose" : "FusedMatMul";
  node.inputs[0] = x;
  node.inputs[1] = w_q;
  if (dynamic) {
    node.attributes["x_dynamic"] = int64_t{1};
  } else {
    node.attributes["x_scale"] = x_scale;
  }
  node.attributes["w_scale"] = scales;
  return true;
}

}  // namespace

bool fuse_int8(Graph& graph, bool dynamic) {
  const GraphUses uses(graph);
  const Int8Matcher match(graph, uses, dynamic);
  bool changed = false;
  for (Node& node : graph.nodes) changed = rewrite(match, node) || changed;
  if (changed) graph.opset_imports[kAmphoraDomain] = 1;
  return changed;
}

}  // namespace amphora
