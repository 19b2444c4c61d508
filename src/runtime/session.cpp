#include "runtime/session.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <new>
#include <set>
#include <unordered_map>

#include "graph/summary.hpp"
#include "ops/amphora_domain.hpp"
#include "passes/passes.hpp"

namespace amphora {

namespace {

// Plans for this many distinct input-shape sets are kept; streaming and batch servers see few.
constexpr size_t kMaxCachedPlans = 64;

std::string input_names(const Graph& graph) {
  std::string s;
  for (const auto& in : graph.inputs) s += (s.empty() ? "'" : ", '") + in.name + "'";
  return s.empty() ? "none" : s;
}

// Runs a kernel, making sure any error names the node (kernels are asked to, but a message
// from deeper down, e.g. Tensor's size guard, does not know the node).
std::vector<Tensor> run_kernel(Kernel& kernel, const Node& node,
                               const std::vector<const Tensor*>& inputs) {
  std::string who = node.display_name();
  try {
    return kernel.run(inputs);
  } catch (const Error& e) {
    if (std::string(e.what()).find(who) != std::string::npos) throw;
    fail(e.code(), "{}: {}", who, e.what());
  } catch (const std::bad_alloc&) {
    fail(ErrorCode::kOutOfRange, "{}: out of memory", who);
  } catch (const std::exception& e) {
    fail(ErrorCode::kInternal, "{}: {}", who, e.what());
  }
}

double product(const Shape& shape, size_t from) {
  double p = 1;
  for (size_t i = from; i < shape.size(); ++i) p *= static_cast<double>(shape[i]);
  return p;
}

}  // namespace

double node_flops(const Node& node, const std::vector<Shape>& inputs,
                  const std::vector<Shape>& outputs) {
  const bool amphora_domain = node.domain == "com.amphora";
  if (!node.domain.empty() && !amphora_domain) return 0;
  const std::string& op = node.op_type;
  if (inputs.size() < 2 || outputs.empty() || inputs[1].size() < 2) return 0;
  // Every output element of a conv is a dot product over (in channels / group) x kernel taps;
  // the weights' trailing dims are exactly that. ConvTranspose scatters each input element
  // over (out channels / group) x kernel taps, again the weights' trailing dims.
  if (op == "Conv" || op == "FusedConv") {
    return 2.0 * product(outputs[0], 0) * product(inputs[1], 1);
  }
  if (op == "ConvTranspose" || op == "FusedConvTranspose") {
    return 2.0 * product(inputs[0], 0) * product(inputs[1], 1);
  }
  if ((op == "MatMul" || op == "FusedMatMul" || op == "Gemm") && !inputs[0].empty()) {
    const int64_t k =
        op == "Gemm" && node.get_int("transA", 0) ? inputs[0].front() : inputs[0].back();
    return 2.0 * product(outputs[0], 0) * static_cast<double>(k);
  }
  return 0;
}

Session::Session(Graph graph, SessionOptions options)
    : graph_(std::move(graph)), options_(options) {
  register_amphora_domain_ops_once();  // the passes' fused nodes, also in graphs saved after them
  if (options_.optimize) optimize_graph(graph_);
  KernelOptions kernel_options;
  kernel_options.reference = options_.reference_kernels;
  kernel_options.threads = options_.threads;
  const OpRegistry& registry = OpRegistry::instance();
  kernels_.reserve(graph_.nodes.size());
  for (const Node& node : graph_.nodes) {
    try {
      kernels_.push_back(registry.create(node, graph_.opset(node.domain), kernel_options));
    } catch (const Error& e) {
      if (std::string(e.what()).find(node.display_name()) != std::string::npos) throw;
      fail(e.code(), "{}: {}", node.display_name(), e.what());
    }
  }
  plan_lifetimes();
}

// Computes, once per graph, after which node each value is dead, and which node outputs are
// needed at all. Also verifies the graph is topologically sorted (the importer's checker
// does, but graphs rewritten by passes come here too).
void Session::plan_lifetimes() {
  std::unordered_map<std::string, size_t> last_use;
  std::set<std::string> available;
  for (const auto& in : graph_.inputs) available.insert(in.name);
  for (const auto& [name, t] : graph_.initializers) available.insert(name);
  for (size_t position = 0; position < graph_.nodes.size(); ++position) {
    const Node& node = graph_.nodes[position];
    for (const std::string& name : node.inputs) {
      if (name.empty()) continue;
      if (!available.count(name)) {
        fail(ErrorCode::kInvalidModel,
             "node {}: input '{}' is not produced by any earlier node, "
             "graph input or initializer",
             node.display_name(), name);
      }
      last_use[name] = position;
    }
    for (const std::string& name : node.outputs) {
      if (!name.empty()) available.insert(name);
    }
  }
  std::set<std::string> returned;
  for (const auto& out : graph_.outputs) {
    if (!available.count(out.name)) {
      fail(ErrorCode::kInvalidModel, "graph output '{}' is not produced by any node", out.name);
    }
    returned.insert(out.name);
  }
  release_after_.assign(graph_.nodes.size(), {});
  output_needed_.assign(graph_.nodes.size(), {});
  for (size_t position = 0; position < graph_.nodes.size(); ++position) {
    for (const std::string& name : graph_.nodes[position].outputs) {
      bool needed = !name.empty() && (last_use.count(name) || returned.count(name));
      output_needed_[position].push_back(needed);
      // A value nobody reads is dropped right after the node that made it.
      if (!name.empty() && !needed) release_after_[position].push_back(name);
    }
  }
  for (const auto& [name, index] : last_use) {
    if (!returned.count(name) && !graph_.initializers.count(name)) {
      release_after_[index].push_back(name);
    }
  }
}

void Session::check_input_dtypes(const std::map<std::string, Tensor>& inputs) const {
  std::set<std::string> declared;
  for (const ValueInfo& in : graph_.inputs) declared.insert(in.name);
  for (const auto& [name, tensor] : inputs) {
    if (!declared.count(name)) {
      fail(ErrorCode::kInvalidArgument, "unknown input '{}' (shape {}); the model's inputs are {}",
           name, shape_str(tensor.shape()), input_names(graph_));
    }
  }
  for (const ValueInfo& in : graph_.inputs) {
    auto it = inputs.find(in.name);
    if (it == inputs.end()) {
      fail(ErrorCode::kInvalidArgument, "missing input '{}' ({} {}); the model's inputs are {}",
           in.name, dtype_name(in.dtype), dims_to_string(in), input_names(graph_));
    }
    if (it->second.empty()) {
      fail(ErrorCode::kInvalidArgument, "input '{}' is an empty (null) tensor", in.name);
    }
    if (it->second.dtype() != in.dtype) {
      fail(ErrorCode::kInvalidArgument, "input '{}' has dtype {}, the model expects {}", in.name,
           dtype_name(it->second.dtype()), dtype_name(in.dtype));
    }
  }
}

Session::ShapePlan Session::make_plan(const std::vector<Shape>& shapes) const {
  ShapePlan plan;
  std::map<std::string, std::string> symbol_source;  // symbol -> "input 'mel' dim 2"
  for (size_t i = 0; i < graph_.inputs.size(); ++i) {
    const ValueInfo& in = graph_.inputs[i];
    const Shape& shape = shapes[i];
    if (!in.rank_known) continue;
    if (shape.size() != in.dims.size()) {
      fail(ErrorCode::kInvalidArgument,
           "input '{}' has shape {} (rank {}), the model expects "
           "rank {}: {}",
           in.name, shape_str(shape), shape.size(), in.dims.size(), dims_to_string(in));
    }
    for (size_t d = 0; d < shape.size(); ++d) {
      const Dim& dim = in.dims[d];
      if (dim.is_fixed() && shape[d] != dim.value) {
        fail(ErrorCode::kInvalidArgument,
             "input '{}' has shape {}, the model expects {} (dim {} "
             "must be {})",
             in.name, shape_str(shape), dims_to_string(in), d, dim.value);
      }
      if (dim.symbol.empty()) continue;
      auto [it, inserted] = plan.symbols.emplace(dim.symbol, shape[d]);
      std::string where = fmt::format("input '{}' dim {}", in.name, d);
      if (inserted) {
        symbol_source[dim.symbol] = where;
      } else if (it->second != shape[d]) {
        fail(ErrorCode::kInvalidArgument,
             "input '{}' has shape {}: {} is '{}' = {}, but {} "
             "gives '{}' = {}",
             in.name, shape_str(shape), where, dim.symbol, shape[d], symbol_source[dim.symbol],
             dim.symbol, it->second);
      }
    }
  }
  check_sizes(plan);
  return plan;
}

// Refuses, before running anything, shapes whose declared or inferred intermediate/output
// sizes are already known to exceed what a Tensor may hold (e.g. frames = 10^9), so the user
// gets a message about the input instead of a failure deep inside a kernel.
void Session::check_sizes(const ShapePlan& plan) const {
  auto check = [&](const ValueInfo& info) {
    if (!info.rank_known) return;
    Shape shape;
    for (const Dim& d : info.dims) {
      if (d.is_fixed()) {
        shape.push_back(d.value);
      } else if (auto it = plan.symbols.find(d.symbol);
                 !d.symbol.empty() && it != plan.symbols.end()) {
        shape.push_back(it->second);
      } else {
        return;  // not known before running
      }
    }
    try {
      shape_numel(shape);
    } catch (const Error& e) {
      std::string symbols;
      for (const auto& [name, value] : plan.symbols) {
        symbols += fmt::format("{}{} = {}", symbols.empty() ? "" : ", ", name, value);
      }
      fail(ErrorCode::kOutOfRange,
           "value '{}' would have shape {} for the given inputs ({}): "
           "too large",
           info.name, shape_str(shape), symbols);
    }
  };
  for (const auto& out : graph_.outputs) check(out);
  for (const auto& [name, info] : graph_.value_info) check(info);
}

const Session::ShapePlan& Session::plan_for(const std::vector<Shape>& shapes) {
  auto it = plans_.find(shapes);
  if (it != plans_.end()) return it->second;
  ShapePlan plan = make_plan(shapes);
  if (plans_.size() >= kMaxCachedPlans) plans_.clear();
  return plans_.emplace(shapes, std::move(plan)).first->second;
}

std::map<std::string, int64_t> Session::resolve_symbols(
    const std::map<std::string, Shape>& shapes) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<Shape> ordered;
  for (const ValueInfo& in : graph_.inputs) {
    auto it = shapes.find(in.name);
    if (it == shapes.end()) fail(ErrorCode::kInvalidArgument, "missing input '{}'", in.name);
    ordered.push_back(it->second);
  }
  return plan_for(ordered).symbols;
}

Session::RunStats Session::last_run_stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_stats_;
}

std::vector<NodeProfile> Session::last_profile() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_profile_;
}

void Session::record_profile(const Node& node, const std::vector<const Tensor*>& inputs,
                             const std::vector<Tensor>& outputs,
                             std::chrono::steady_clock::time_point start,
                             std::vector<NodeProfile>& profile) {
  NodeProfile entry;
  entry.ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  entry.name = node.name.empty() ? fmt::format("#{}", node.index) : node.name;
  entry.op_type = node.op_type;
  entry.domain = node.domain;
  for (const Tensor* t : inputs) entry.input_shapes.push_back(t ? t->shape() : Shape{});
  for (const Tensor& t : outputs) entry.output_shapes.push_back(t.shape());
  entry.flops = node_flops(node, entry.input_shapes, entry.output_shapes);
  profile.push_back(std::move(entry));
}

size_t Session::cached_plan_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return plans_.size();
}

std::map<std::string, Tensor> Session::run(const std::map<std::string, Tensor>& inputs,
                                           const ProgressFn& progress) {
  std::lock_guard<std::mutex> lock(mutex_);
  BufferPool::Scope buffers(buffers_);  // activations reuse the buffers of earlier nodes and runs
  check_input_dtypes(inputs);
  std::vector<Shape> shapes;
  shapes.reserve(graph_.inputs.size());
  for (const ValueInfo& in : graph_.inputs) shapes.push_back(inputs.at(in.name).shape());
  plan_for(shapes);
  if (options_.threads > 0) omp_set_num_threads(options_.threads);

  std::unordered_map<std::string, Tensor> values(inputs.begin(), inputs.end());
  RunStats stats;
  size_t live_bytes = 0;
  for (const auto& [name, tensor] : inputs) live_bytes += tensor.nbytes();
  auto lookup = [&](const std::string& name) -> const Tensor* {
    if (auto it = values.find(name); it != values.end()) return &it->second;
    if (auto it = graph_.initializers.find(name); it != graph_.initializers.end()) {
      return &it->second;
    }
    return nullptr;
  };

  std::vector<NodeProfile> profile;
  if (options_.profile) profile.reserve(graph_.nodes.size());
  std::vector<const Tensor*> args;
  for (size_t position = 0; position < graph_.nodes.size(); ++position) {
    const Node& node = graph_.nodes[position];
    args.clear();
    for (const std::string& name : node.inputs) {
      const Tensor* value = name.empty() ? nullptr : lookup(name);
      if (!name.empty() && !value) {
        fail(ErrorCode::kInternal, "node {}: input '{}' was not computed", node.display_name(),
             name);
      }
      args.push_back(value);
    }
    const auto node_start = std::chrono::steady_clock::now();
    std::vector<Tensor> results = run_kernel(*kernels_[position], node, args);
    if (options_.profile) record_profile(node, args, results, node_start, profile);
    const auto& needed = output_needed_[position];
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (!needed[i]) continue;
      if (i >= results.size() || results[i].empty()) {
        fail(ErrorCode::kInternal, "node {}: kernel did not produce output #{} '{}'",
             node.display_name(), i, node.outputs[i]);
      }
      live_bytes += results[i].nbytes();
      values[node.outputs[i]] = std::move(results[i]);
    }
    stats.peak_live_values = std::max(stats.peak_live_values, values.size());
    stats.peak_live_bytes = std::max(stats.peak_live_bytes, live_bytes);
    for (const std::string& name : release_after_[position]) {
      if (auto it = values.find(name); it != values.end()) {
        live_bytes -= it->second.nbytes();
        values.erase(it);
      }
    }
    if (progress) progress(position + 1, graph_.nodes.size());
  }
  last_stats_ = stats;
  if (options_.profile) last_profile_ = std::move(profile);

  std::map<std::string, Tensor> outputs;
  for (const ValueInfo& out : graph_.outputs) {
    const Tensor* value = lookup(out.name);
    if (!value) fail(ErrorCode::kInternal, "graph output '{}' was not computed", out.name);
    outputs[out.name] = *value;
  }
  return outputs;
}

}  // namespace amphora
