// Pad -> Conv, two ways:
// - Pad(mode reflect, time axis only) -> Conv/FusedConv with no padding of its own  becomes  one
//   FusedConv with pad_mode "reflect" (ops/conv/conv_fused.hpp). MelGAN frames each of its convs
//   with nn.ReflectionPad1d: 14 copies of an activation-sized tensor (9 % of a run) that a tiled
//   conv avoids by mirroring the edges while it packs its windows (conv_tiled.hpp).
// - Pad(mode constant, value 0, spatial axes only) -> Conv  becomes  the Conv with those pads
//   added to its own: standard ONNX, so `amphora optimize` writes it too.
//
// Offline only: the streamer handles a Pad's edges itself (its prefix and tail), which a conv
// cannot; optimize_graph leaves these passes out for streaming.
#include <algorithm>
#include <map>
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

// A Pad's constant pads (all axes, begins then ends), or empty when they are not constant or the
// Pad names its axes.
std::vector<int64_t> constant_pads(const Graph& graph, const GraphUses& uses, const Node& pad) {
  if (graph.opset() < 11) return pad.get_ints("pads", {});
  if (pad.inputs.size() < 2 || (pad.inputs.size() > 3 && !pad.inputs[3].empty())) return {};
  const Tensor* value = constant_value(graph, uses, pad.inputs[1]);
  if (!value || value->dtype() != DType::kInt64) return {};
  const int64_t* p = value->data<int64_t>();
  return {p, p + value->numel()};
}

// A Pad that fills with zeros (mode constant and no value, or value 0).
bool pads_with_zero(const Graph& graph, const GraphUses& uses, const Node& pad) {
  if (pad.get_string("mode", "constant") != "constant") return false;
  if (graph.opset() < 11) return pad.get_float("value", 0.0f) == 0.0f;
  if (pad.inputs.size() < 3 || pad.inputs[2].empty()) return true;
  const Tensor* value = constant_value(graph, uses, pad.inputs[2]);
  if (!value || value->numel() != 1) return false;
  bool zero = false;
  visit_dtype(value->dtype(),
              [&](auto t) { zero = value->data<decltype(t)>()[0] == decltype(t){}; });
  return zero;
}

// (begin, end) of a Pad that pads only the last axis of a 3-D tensor, or (-1, -1).
std::pair<int64_t, int64_t> time_pads(const Graph& graph, const GraphUses& uses, const Node& pad) {
  const std::vector<int64_t> pads = constant_pads(graph, uses, pad);
  if (pads.size() != 6 || pads[0] || pads[1] || pads[3] || pads[4] || pads[2] < 0 || pads[5] < 0) {
    return {-1, -1};
  }
  return {pads[2], pads[5]};
}

// A Conv or FusedConv (not transposed) over 1-D time with no padding or padding mode of its own.
bool is_unpadded_1d_conv(const Graph& graph, const Node& node) {
  if (!(is_default_domain(node) && node.op_type == "Conv") &&
      !(node.domain == kAmphoraDomain && node.op_type == "FusedConv")) {
    return false;
  }
  if (node.has("pad_mode") || node.inputs.size() < 2) return false;
  const std::string auto_pad = node.get_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") return false;
  for (int64_t p : node.get_ints("pads", {})) {
    if (p != 0) return false;
  }
  if (node.has("kernel_shape")) return node.get_ints("kernel_shape", {}).size() == 1;
  auto w = graph.initializers.find(node.inputs[1]);
  return w != graph.initializers.end() && w->second.rank() == 3;
}

// The Pad's output is the conv's X and nothing else of the conv's.
bool feeds_only_x(const Node& conv, const std::string& value) {
  return conv.inputs[0] == value && std::count(conv.inputs.begin(), conv.inputs.end(), value) == 1;
}

}  // namespace

bool fuse_zero_pad(Graph& graph) {
  const GraphUses uses(graph);
  std::set<size_t> removed;
  for (const Node& pad : graph.nodes) {
    if (!is_default_domain(pad) || pad.op_type != "Pad" || pad.outputs.size() != 1 ||
        !uses.has_single_reader(pad.outputs[0]) || !pads_with_zero(graph, uses, pad)) {
      continue;
    }
    Node& conv = graph.nodes[uses.readers(pad.outputs[0]).front()];
    const bool plain_conv = is_default_domain(conv) && conv.op_type == "Conv";
    const bool fused_conv = conv.domain == kAmphoraDomain && conv.op_type == "FusedConv";
    if (!(plain_conv || fused_conv) || conv.has("pad_mode") ||
        !feeds_only_x(conv, pad.outputs[0]) || conv.get_string("auto_pad", "NOTSET") != "NOTSET") {
      continue;
    }
    // Pads of batch and channels cannot move into a conv; those of the spatial axes add to its.
    const std::vector<int64_t> pads = constant_pads(graph, uses, pad);
    const size_t rank = pads.size() / 2;
    if (rank < 3 || pads.size() != 2 * rank || pads[0] || pads[1] || pads[rank] || pads[rank + 1] ||
        std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; })) {
      continue;
    }
    const size_t spatial = rank - 2;
    std::vector<int64_t> merged = conv.get_ints("pads", std::vector<int64_t>(2 * spatial, 0));
    if (merged.size() != 2 * spatial) continue;
    for (size_t i = 0; i < spatial; ++i) {
      merged[i] += pads[2 + i];
      merged[spatial + i] += pads[rank + 2 + i];
    }
    conv.attributes["pads"] = merged;
    conv.inputs[0] = pad.inputs[0];
    removed.insert(pad.index);
  }
  return remove_nodes(graph, removed);
}

bool fuse_reflect_pad(Graph& graph) {
  const GraphUses uses(graph);
  std::set<size_t> removed;
  for (const Node& pad : graph.nodes) {
    if (!is_default_domain(pad) || pad.op_type != "Pad" || pad.outputs.size() != 1 ||
        pad.get_string("mode", "constant") != "reflect" ||
        !uses.has_single_reader(pad.outputs[0])) {
      continue;
    }
    const auto [begin, end] = time_pads(graph, uses, pad);
    if (begin < 0 || begin + end == 0) continue;
    Node& conv = graph.nodes[uses.readers(pad.outputs[0]).front()];
    if (!is_unpadded_1d_conv(graph, conv) || !feeds_only_x(conv, pad.outputs[0])) {
      continue;
    }
    conv.domain = kAmphoraDomain;
    conv.op_type = "FusedConv";
    conv.attributes["pads"] = std::vector<int64_t>{begin, end};
    conv.attributes["pad_mode"] = std::string("reflect");
    conv.attributes.erase("auto_pad");
    conv.inputs[0] = pad.inputs[0];
    removed.insert(pad.index);
  }
  if (removed.empty()) return false;
  std::map<size_t, Node> placed;
  replace_fused_nodes(graph, removed, placed);
  graph.opset_imports[kAmphoraDomain] = 1;
  return true;
}

}  // namespace amphora
