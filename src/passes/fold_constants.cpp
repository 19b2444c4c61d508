// Nodes whose inputs are all constants are run once, here, and their outputs become
// initializers. torch.onnx computes many small tensors at run time from constants -- e.g. every
// ReflectionPad1d's pads go through ConstantOfShape, Concat, Reshape, Slice, Transpose, Reshape
// and Cast (98 such nodes in MelGAN) -- and the passes after this one need those values to see
// what the graph does (fuse_pad.cpp reads the pads).
//
// Left alone: random ops, ops with subgraphs, nodes whose outputs are graph outputs, initializers
// that are also graph inputs (an overridable default, not a constant), and anything large, so
// that loading never computes more than a few small tensors. A node whose kernel refuses its
// inputs stays too, so that running the graph reports the error with its usual context.
// `any_size` (for `amphora optimize`, which runs once, offline) lifts the limit on inputs, so a
// weight-norm chain over whole weights folds; an output may then be as large as the largest
// input, never larger, so the file cannot grow.
#include <algorithm>
#include <set>

#include "ops/kernel.hpp"
#include "passes/graph_uses.hpp"
#include "passes/passes.hpp"

namespace amphora {
namespace {

constexpr int64_t kMaxFoldedElements = 1 << 16;  // per input and per output

bool may_fold(const Node& node) {
  static const std::set<std::string> kNever = {"RandomNormal",
                                               "RandomUniform",
                                               "RandomNormalLike",
                                               "RandomUniformLike",
                                               "Multinomial",
                                               "Bernoulli",
                                               "If",
                                               "Loop",
                                               "Scan"};
  return is_default_domain(node) && !kNever.count(node.op_type);
}

}  // namespace

bool fold_constants(Graph& graph, bool any_size) {
  std::set<std::string> overridable;
  for (const auto& input : graph.inputs) overridable.insert(input.name);
  std::set<std::string> outputs;
  for (const auto& output : graph.outputs) outputs.insert(output.name);
  const auto constant = [&](const std::string& name) -> const Tensor* {
    if (overridable.count(name)) return nullptr;
    auto it = graph.initializers.find(name);
    return it == graph.initializers.end() ? nullptr : &it->second;
  };
  std::set<size_t> folded;
  for (const Node& node : graph.nodes) {
    if (!may_fold(node)) continue;
    std::vector<const Tensor*> inputs;
    bool all_constant = true;
    int64_t max_output = kMaxFoldedElements;
    for (const std::string& name : node.inputs) {
      const Tensor* value = name.empty() ? nullptr : constant(name);
      if (!name.empty() && !value) all_constant = false;
      if (value && value->numel() > kMaxFoldedElements) {
        if (!any_size) all_constant = false;
        max_output = std::max(max_output, value->numel());
      }
      inputs.push_back(value);
    }
    bool returned = false;
    for (const std::string& name : node.outputs) returned = returned || outputs.count(name);
    if (!all_constant || returned) continue;
    std::vector<Tensor> results;
    try {
      results = OpRegistry::instance()
                    .create(node, graph.opset(node.domain), KernelOptions{})
                    ->run(inputs);
    } catch (const Error&) {
      continue;
    }
    bool small = results.size() == node.outputs.size();
    for (const Tensor& t : results) small = small && t.numel() <= max_output;
    if (!small) continue;
    for (size_t i = 0; i < results.size(); ++i) {
      if (!node.outputs[i].empty()) graph.initializers[node.outputs[i]] = std::move(results[i]);
    }
    folded.insert(node.index);
  }
  return remove_nodes(graph, folded);
}

}  // namespace amphora
