// Conv -> BatchNormalization (inference, constant statistics) becomes one Conv with the
// normalisation in its weights and bias: per output channel c, with s = scale / sqrt(var + eps),
// W'[c] = W[c] * s[c] and B'[c] = (B[c] - mean[c]) * s[c] + beta[c]. Standard ONNX, so
// `amphora optimize` writes it too; the runtime then fuses the Conv further.
#include <cmath>

#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

// The float32 vector of `count` values behind `value`, or null.
const float* channel_constant(const Graph& graph, const GraphUses& uses, const std::string& value,
                              int64_t count) {
  const Tensor* t = constant_value(graph, uses, value);
  if (!t || t->dtype() != DType::kFloat32 || t->numel() != count) return nullptr;
  return t->data<float>();
}

}  // namespace

bool fold_batch_norm(Graph& graph) {
  const GraphUses uses(graph);
  std::set<size_t> removed;
  for (Node& conv : graph.nodes) {
    if (!is_default_domain(conv) || conv.op_type != "Conv" || conv.outputs.size() != 1 ||
        conv.inputs.size() < 2) {
      continue;
    }
    const Node* bn = sole_reader(graph, uses, removed, conv.outputs[0]);
    if (!bn || !is_default_domain(*bn) || bn->op_type != "BatchNormalization" ||
        bn->inputs.size() != 5 || bn->inputs[0] != conv.outputs[0] ||
        bn->get_int("training_mode", 0) != 0) {
      continue;
    }
    bool extra_outputs = false;  // running statistics: only in training mode
    for (size_t k = 1; k < bn->outputs.size(); ++k) {
      extra_outputs = extra_outputs || !bn->outputs[k].empty();
    }
    const Tensor* weight = constant_value(graph, uses, conv.inputs[1]);
    if (extra_outputs || !weight || weight->dtype() != DType::kFloat32 || weight->rank() < 3) {
      continue;
    }
    const int64_t channels = weight->shape()[0];
    const float* gamma = channel_constant(graph, uses, bn->inputs[1], channels);
    const float* beta = channel_constant(graph, uses, bn->inputs[2], channels);
    const float* mean = channel_constant(graph, uses, bn->inputs[3], channels);
    const float* var = channel_constant(graph, uses, bn->inputs[4], channels);
    const bool has_bias = conv.inputs.size() > 2 && !conv.inputs[2].empty();
    const float* bias =
        has_bias ? channel_constant(graph, uses, conv.inputs[2], channels) : nullptr;
    if (!gamma || !beta || !mean || !var || (has_bias && !bias)) continue;

    const float epsilon = bn->get_float("epsilon", 1e-5f);
    Tensor folded_weight(DType::kFloat32, weight->shape());
    Tensor folded_bias(DType::kFloat32, {channels});
    const int64_t per_channel = weight->numel() / channels;
    for (int64_t c = 0; c < channels; ++c) {
      const float s = gamma[c] / std::sqrt(var[c] + epsilon);
      const float* w = weight->data<float>() + c * per_channel;
      float* out = folded_weight.data<float>() + c * per_channel;
      for (int64_t k = 0; k < per_channel; ++k) out[k] = w[k] * s;
      folded_bias.data<float>()[c] = ((has_bias ? bias[c] : 0.0f) - mean[c]) * s + beta[c];
    }
    // New names: the originals may be read elsewhere; dead_nodes drops them if not.
    const std::string base = conv.name.empty() ? bn->outputs[0] : conv.name;
    const std::string w_name = unused_name(graph, base + "_bn_weight");
    graph.initializers[w_name] = std::move(folded_weight);
    const std::string b_name = unused_name(graph, base + "_bn_bias");
    graph.initializers[b_name] = std::move(folded_bias);
    conv.inputs.resize(3);
    conv.inputs[1] = w_name;
    conv.inputs[2] = b_name;
    conv.outputs[0] = bn->outputs[0];
    removed.insert(bn->index);
  }
  return remove_nodes(graph, removed);
}

}  // namespace amphora
