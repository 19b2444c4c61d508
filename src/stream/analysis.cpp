#include "stream/analysis.hpp"

#include <cstring>
#include <random>
#include <set>

#include "ops/amphora_domain.hpp"

namespace amphora::stream {

namespace {

// The probe input for one graph input at `frames` frames; empty tensor + `problem` when an
// axis is neither batch, fixed nor a known time symbol.
Tensor probe_input(const ValueInfo& input, const std::map<std::string, int64_t>& symbol_rates,
                   int64_t frames, uint64_t seed, std::string& problem) {
  if (!input.rank_known) {
    problem = fmt::format("input '{}' declares no shape, so its time axis is unknown", input.name);
    return {};
  }
  Shape shape;
  for (size_t axis = 0; axis < input.dims.size(); ++axis) {
    const Dim& dim = input.dims[axis];
    if (dim.is_fixed()) {
      shape.push_back(dim.value);
    } else if (auto it = symbol_rates.find(dim.symbol); it != symbol_rates.end()) {
      shape.push_back(frames * it->second);
    } else if (axis == 0) {
      shape.push_back(1);
    } else {
      problem = fmt::format(
          "input '{}' dim {} ('{}') is neither the batch nor a time axis the streamer knows "
          "(frames or samples)",
          input.name, axis, dim.symbol.empty() ? "?" : dim.symbol);
      return {};
    }
  }
  Tensor tensor(input.dtype, shape);
  if (input.dtype == DType::kFloat32) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    float* values = tensor.data<float>();
    for (int64_t i = 0; i < tensor.numel(); ++i) values[i] = normal(rng);
  }
  return tensor;
}

bool same_contents(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// One probe run: the shape of every value, and the contents of the values computed without
// the input data (candidates for folding). Data values are dropped after their last reader,
// so probing a large vocoder costs about one ordinary run of memory.
struct Probe {
  std::map<std::string, Shape> shapes;
  std::map<std::string, Tensor> data_free;
};

Probe run_probe(const Graph& graph, std::vector<std::unique_ptr<Kernel>>& kernels,
                std::map<std::string, Tensor> values, const std::set<std::string>& tainted) {
  std::map<std::string, size_t> last_reader;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const std::string& name : graph.nodes[i].inputs) last_reader[name] = i;
  }
  Probe probe;
  for (const auto& [name, tensor] : values) probe.shapes[name] = tensor.shape();
  std::vector<const Tensor*> args;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    args.clear();
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        args.push_back(nullptr);
      } else if (auto it = values.find(name); it != values.end()) {
        args.push_back(&it->second);
      } else {
        args.push_back(&graph.initializers.at(name));
      }
    }
    std::vector<Tensor> results;
    try {
      results = kernels[i]->run(args);
    } catch (const Error& e) {
      fail(e.code(), "probing {} for streaming: {}", node.display_name(), e.what());
    }
    for (size_t k = 0; k < node.outputs.size() && k < results.size(); ++k) {
      const std::string& name = node.outputs[k];
      if (name.empty()) continue;
      probe.shapes[name] = results[k].shape();
      if (!tainted.count(name)) probe.data_free[name] = results[k];
      values[name] = std::move(results[k]);
    }
    for (const std::string& name : node.inputs) {
      auto last = last_reader.find(name);
      if (last != last_reader.end() && last->second == i) values.erase(name);
    }
  }
  return probe;
}

}  // namespace

TimeAnalysis analyze_time(const Graph& graph, const std::map<std::string, int64_t>& symbol_rates,
                          const KernelOptions& kernel_options) {
  TimeAnalysis analysis;
  register_amphora_domain_ops_once();  // graphs rewritten by src/passes use them
  std::vector<std::unique_ptr<Kernel>> kernels;
  for (const Node& node : graph.nodes) {
    kernels.push_back(
        OpRegistry::instance().create(node, graph.opset(node.domain), kernel_options));
  }
  // Data taint: everything computed from input values, except what only reads shapes.
  std::set<std::string> tainted;
  for (const ValueInfo& input : graph.inputs) tainted.insert(input.name);
  for (const Node& node : graph.nodes) {
    if (node.op_type == "Shape" || node.op_type == "Size") continue;
    bool from_data = false;
    for (const std::string& name : node.inputs) from_data |= tainted.count(name) > 0;
    if (from_data) {
      for (const std::string& name : node.outputs) tainted.insert(name);
    }
  }
  Probe probe[2];
  for (int p = 0; p < 2; ++p) {
    std::map<std::string, Tensor> inputs;
    for (const ValueInfo& input : graph.inputs) {
      Tensor tensor =
          probe_input(input, symbol_rates, TimeAnalysis::kProbeFrames[p], 17 + p, analysis.problem);
      if (!analysis.problem.empty()) return analysis;
      inputs[input.name] = tensor;
    }
    probe[p] = run_probe(graph, kernels, std::move(inputs), tainted);
  }

  const double frames_apart =
      static_cast<double>(TimeAnalysis::kProbeFrames[1] - TimeAnalysis::kProbeFrames[0]);
  for (const auto& [name, first] : probe[0].shapes) {
    const Shape& second = probe[1].shapes.at(name);
    ValueTime time;
    time.probe_shape[0] = first;
    time.probe_shape[1] = second;
    std::vector<int64_t> differing;
    if (first.size() == second.size()) {
      for (size_t axis = 0; axis < first.size(); ++axis) {
        if (first[axis] != second[axis]) differing.push_back(static_cast<int64_t>(axis));
      }
    }
    if (first.size() != second.size() || differing.size() > 1) {
      analysis.problem = fmt::format(
          "value '{}' changes shape with the input length in more than one axis ({} vs {})", name,
          shape_str(first), shape_str(second));
      return analysis;
    }
    if (differing.size() == 1) {
      time.kind = ValueKind::kStream;
      time.axis = differing[0];
      time.rate = static_cast<double>(second[time.axis] - first[time.axis]) / frames_apart;
    } else if (tainted.count(name)) {
      time.kind = ValueKind::kHead;
    } else if (same_contents(probe[0].data_free.at(name), probe[1].data_free.at(name))) {
      time.kind = ValueKind::kStatic;
      analysis.constants[name] = probe[0].data_free.at(name);
    } else {
      time.kind = ValueKind::kLength;
    }
    analysis.values[name] = time;
  }
  return analysis;
}

}  // namespace amphora::stream
