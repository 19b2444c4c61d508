#include "pipeline/qdq_graph.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "passes/graph_uses.hpp"

namespace amphora {
namespace {

constexpr float kInt8Max = 127.0f;  // symmetric: -127..127, so -w quantizes to -q

// A scale for values up to max_abs; a tensor that is all zeros still needs a valid (non-zero)
// scale, and any scale represents its zeros exactly.
float symmetric_scale(float max_abs) { return max_abs > 0 ? max_abs / kInt8Max : 1.0f; }

int8_t quantize_value(float value, float scale) {
  return static_cast<int8_t>(std::clamp(std::nearbyint(value / scale), -kInt8Max, kInt8Max));
}

const Tensor* float_weight(const Node& node, const Graph& graph) {
  if (node.inputs.size() < 2) return nullptr;
  auto it = graph.initializers.find(node.inputs[1]);
  if (it == graph.initializers.end() || it->second.dtype() != DType::kFloat32) return nullptr;
  return &it->second;
}

// New value and initializer names: `base`, or `base_2`, ... when the graph or this build
// already has it.
class Names {
 public:
  explicit Names(const Graph& graph) {
    for (const auto& [name, _] : graph.initializers) taken_.insert(name);
    for (const ValueInfo& v : graph.inputs) taken_.insert(v.name);
    for (const Node& node : graph.nodes) taken_.insert(node.outputs.begin(), node.outputs.end());
  }
  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 2; taken_.count(name); ++i) name = base + "_" + std::to_string(i);
    taken_.insert(name);
    return name;
  }

 private:
  std::set<std::string> taken_;
};

Node make_node(const std::string& op, const std::string& name, std::vector<std::string> inputs,
               std::vector<std::string> outputs) {
  Node node;
  node.op_type = op;
  node.name = name;
  node.inputs = std::move(inputs);
  node.outputs = std::move(outputs);
  return node;
}

}  // namespace

bool is_quantizable(const Node& node, const Graph& graph) {
  if (!is_default_domain(node)) return false;
  const Tensor* w = float_weight(node, graph);
  if (!w) return false;
  if (node.op_type == "Conv" || node.op_type == "ConvTranspose") {
    return w->shape().size() >= 3 && node.get_int("group", 1) == 1;
  }
  return node.op_type == "MatMul" && w->shape().size() == 2;
}

std::vector<size_t> quantizable_nodes(const Graph& graph) {
  std::vector<size_t> nodes;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (is_quantizable(graph.nodes[i], graph)) nodes.push_back(i);
  }
  return nodes;
}

int64_t weight_channel_axis(const Node& node) { return node.op_type == "Conv" ? 0 : 1; }

QdqBuilder::QdqBuilder(const Graph& graph) : graph_(graph) {}

const QdqBuilder::Weight& QdqBuilder::weight(size_t node_index) const {
  if (auto it = weights_.find(node_index); it != weights_.end()) return it->second;
  const Node& node = graph_.nodes.at(node_index);
  const Tensor* w = float_weight(node, graph_);
  if (!w || !is_quantizable(node, graph_)) {
    fail(ErrorCode::kInternal, "{} is not a quantizable node", node.display_name());
  }
  // View the weight as [outer, C, inner] around the channel axis.
  const Shape& shape = w->shape();
  const size_t axis = static_cast<size_t>(weight_channel_axis(node));
  int64_t outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t channels = shape[axis];
  const float* v = w->data<float>();
  Weight out{Tensor(DType::kInt8, shape), Tensor(DType::kFloat32, {channels})};
  float* scales = out.scales.data<float>();
  int8_t* q = out.values.data<int8_t>();
  std::vector<float> max_abs(channels, 0.0f);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* row = v + (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) max_abs[c] = std::max(max_abs[c], std::fabs(row[i]));
    }
  }
  for (int64_t c = 0; c < channels; ++c) scales[c] = symmetric_scale(max_abs[c]);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        q[base + i] = quantize_value(v[base + i], scales[c]);
        out.max_error = std::max(out.max_error, std::fabs(v[base + i] - q[base + i] * scales[c]));
      }
    }
  }
  return weights_.emplace(node_index, std::move(out)).first->second;
}

float QdqBuilder::weight_error(size_t node) const { return weight(node).max_error; }

Graph QdqBuilder::build(const std::set<size_t>& quantized,
                        const std::map<std::string, float>* activation_max_abs) const {
  Graph out = graph_;
  out.nodes.clear();
  Names names(graph_);
  for (size_t i = 0; i < graph_.nodes.size(); ++i) {
    Node node = graph_.nodes[i];
    if (!quantized.count(i)) {
      out.nodes.push_back(std::move(node));
      continue;
    }
    const std::string base = node.name.empty() ? "node" + std::to_string(i) : node.name;
    const Weight& w = weight(i);
    const std::string w_int8 = names.fresh(node.inputs[1] + "_int8");
    const std::string w_scale = names.fresh(node.inputs[1] + "_scale");
    const std::string w_zero = names.fresh(node.inputs[1] + "_zero_point");
    out.initializers[w_int8] = w.values;
    out.initializers[w_scale] = w.scales;
    out.initializers[w_zero] = Tensor(DType::kInt8, w.scales.shape());
    const std::string w_float = names.fresh(node.inputs[1] + "_dequantized");
    Node dq_w = make_node("DequantizeLinear", base + "_weight_dequantize",
                          {w_int8, w_scale, w_zero}, {w_float});
    dq_w.attributes["axis"] = weight_channel_axis(node);
    out.nodes.push_back(std::move(dq_w));

    const std::string& x = node.inputs[0];
    const std::string x_int = names.fresh(base + "_input_quantized");
    const std::string x_float = names.fresh(base + "_input_dequantized");
    if (activation_max_abs) {
      auto range = activation_max_abs->find(x);
      if (range == activation_max_abs->end()) {
        fail(ErrorCode::kInternal, "no calibrated range for {}'s input {}", node.display_name(), x);
      }
      const std::string x_scale = names.fresh(base + "_input_scale");
      const std::string x_zero = names.fresh(base + "_input_zero_point");
      out.initializers[x_scale] = Tensor::scalar(symmetric_scale(range->second));
      out.initializers[x_zero] = Tensor::scalar(int8_t{0});
      out.nodes.push_back(
          make_node("QuantizeLinear", base + "_input_quantize", {x, x_scale, x_zero}, {x_int}));
      out.nodes.push_back(make_node("DequantizeLinear", base + "_input_dequantize",
                                    {x_int, x_scale, x_zero}, {x_float}));
    } else {
      const std::string scale = names.fresh(base + "_input_scale");
      const std::string zero = names.fresh(base + "_input_zero_point");
      out.nodes.push_back(
          make_node("DynamicQuantizeLinear", base + "_input_quantize", {x}, {x_int, scale, zero}));
      out.nodes.push_back(make_node("DequantizeLinear", base + "_input_dequantize",
                                    {x_int, scale, zero}, {x_float}));
    }
    node.inputs[0] = x_float;
    node.inputs[1] = w_float;
    out.nodes.push_back(std::move(node));
  }
  // Float weights no quantized node reads any more.
  std::set<std::string> read;
  for (const Node& node : out.nodes) read.insert(node.inputs.begin(), node.inputs.end());
  for (auto it = out.initializers.begin(); it != out.initializers.end();) {
    it = read.count(it->first) ? std::next(it) : out.initializers.erase(it);
  }
  renumber_nodes(out);
  return out;
}

}  // namespace amphora
