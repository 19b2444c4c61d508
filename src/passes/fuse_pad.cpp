// Pad(mode reflect, time axis only) -> Conv/FusedConv with no padding of its own  becomes  one
// FusedConv with pad_mode "reflect" (ops/conv/conv_fused.hpp). MelGAN frames each of its convs with
// nn.ReflectionPad1d: 14 copies of an activation-sized tensor (9 % of a run) that a tiled conv
// avoids by mirroring the edges while it packs its windows (conv_tiled.hpp).
//
// Offline only: the streamer handles a Pad's edges itself (its prefix and tail), which a conv
// cannot; optimize_graph leaves this pass out for streaming.
#include <algorithm>
#include <map>
#include <set>

#include "ops/amphora_domain.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

// (begin, end) of a Pad that pads only the last axis of a 3-D tensor, or (-1, -1).
std::pair<int64_t, int64_t> time_pads(const Graph& graph, const GraphUses& uses, const Node& pad) {
  std::vector<int64_t> pads;
  if (graph.opset() < 11) {
    pads = pad.get_ints("pads", {});
  } else {
    if (pad.inputs.size() < 2 || (pad.inputs.size() > 3 && !pad.inputs[3].empty())) return {-1, -1};
    const Tensor* value = constant_value(graph, uses, pad.inputs[1]);
    if (!value || value->dtype() != DType::kInt64) return {-1, -1};
    const int64_t* p = value->data<int64_t>();
    pads.assign(p, p + value->numel());
  }
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

}  // namespace

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
    if (!is_unpadded_1d_conv(graph, conv) || conv.inputs[0] != pad.outputs[0] ||
        std::count(conv.inputs.begin(), conv.inputs.end(), pad.outputs[0]) != 1) {
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
