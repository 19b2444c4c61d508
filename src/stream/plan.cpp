#include "stream/plan.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "ops/kernel.hpp"

namespace amphora::stream {

namespace {

constexpr int64_t kOpenEnd = int64_t{1} << 31;  // Slice ends at or beyond this mean "to the end"

struct Planner : StreamQuery {
  Planner(const Graph& graph, StreamPlan& plan) : graph(graph), plan(plan) {}
  const Graph& graph;
  StreamPlan& plan;

  bool is_stream(const std::string& name) const override {
    return kind_of(name) == ValueKind::kStream;
  }
  int64_t time_axis(const std::string& name) const override {
    const ValueTime* t = time_of(name);
    return t && t->kind == ValueKind::kStream ? t->axis : -1;
  }
  int64_t rank(const std::string& name) const override { return rank_of(name); }
  const Shape& probe_shape(const std::string& name, int probe) const override {
    const ValueTime* t = time_of(name);
    if (!t) return graph.initializers.at(name).shape();
    return t->probe_shape[probe];
  }

  const ValueTime* time_of(const std::string& name) const {
    auto it = plan.time.values.find(name);
    return it == plan.time.values.end() ? nullptr : &it->second;
  }
  ValueKind kind_of(const std::string& name) const {
    if (name.empty() || graph.initializers.count(name)) return ValueKind::kStatic;
    const ValueTime* t = time_of(name);
    return t ? t->kind : ValueKind::kStatic;
  }
  // A static input's value (initializer or folded constant), or nullptr.
  const Tensor* constant(const std::string& name) const override {
    if (auto it = graph.initializers.find(name); it != graph.initializers.end()) return &it->second;
    if (auto it = plan.time.constants.find(name); it != plan.time.constants.end()) {
      return &it->second;
    }
    return nullptr;
  }
  std::vector<int64_t> ints(const Node& node, size_t input, const char* what) {
    if (input >= node.inputs.size() || node.inputs[input].empty()) return {};
    const Tensor* value = constant(node.inputs[input]);
    if (!value) {
      problem(node, fmt::format("its {} depend on the input", what));
      return {};
    }
    return value->to_int64_vector();
  }
  void problem(const Node& node, const std::string& why) {
    if (plan.problem.empty()) plan.problem = fmt::format("{}: {}", node.display_name(), why);
  }
  int64_t rank_of(const std::string& name) const {
    const ValueTime* t = time_of(name);
    return t ? static_cast<int64_t>(t->probe_shape[0].size()) : graph.initializers.at(name).rank();
  }

  void plan_stream_node(const Node& node, NodePlan& np, const std::vector<size_t>& streams);
  void plan_head_node(const Node& node, NodePlan& np, const std::vector<size_t>& streams);
  void check_local(const Node& node, const std::vector<size_t>& streams);
};

void Planner::plan_stream_node(const Node& node, NodePlan& np, const std::vector<size_t>& streams) {
  np.axis = time_of(node.inputs[streams[0]])->axis;
  np.kernel_node = node;
  const StreamRule* rule = OpRegistry::instance().stream_rule(node.domain, node.op_type);
  if (!rule) {
    return problem(node, fmt::format("{} over a time series is not supported by the streamer "
                                     "(yet)",
                                     node.op_type));
  }
  if (std::string why = (*rule)(node, streams, *this, np); !why.empty()) {
    return problem(node, why);
  }
  if (np.role == Role::kLocal) check_local(node, streams);
}

// What holds of every local node, whatever its op: stream inputs share their time steps, and
// each output step count is a fixed multiple of the input's.
void Planner::check_local(const Node& node, const std::vector<size_t>& streams) {
  const ValueTime& in = *time_of(node.inputs[streams[0]]);
  for (size_t s : streams) {
    const ValueTime& other = *time_of(node.inputs[s]);
    for (int p = 0; p < 2; ++p) {
      if (other.probe_shape[p][other.axis] != in.probe_shape[p][in.axis]) {
        return problem(node, "its time-series inputs have different lengths");
      }
    }
  }
  for (const std::string& output : node.outputs) {
    const ValueTime* out = time_of(output);
    if (!out || out->kind != ValueKind::kStream) continue;
    const int64_t in0 = in.probe_shape[0][in.axis], in1 = in.probe_shape[1][in.axis];
    const int64_t out0 = out->probe_shape[0][out->axis], out1 = out->probe_shape[1][out->axis];
    if (out0 % in0 != 0 || out0 / in0 != out1 / in1 || out1 % in1 != 0) {
      return problem(node, "changes the number of time steps by a non-integer factor");
    }
  }
}

void Planner::plan_head_node(const Node& node, NodePlan& np, const std::vector<size_t>& streams) {
  np.kernel_node = node;
  if (streams.empty()) {
    np.role = Role::kHeadLocal;
    return;
  }
  const ValueTime& in = *time_of(node.inputs[0]);
  const int64_t rank = static_cast<int64_t>(in.probe_shape[0].size());
  if (node.op_type == "Gather" && streams == std::vector<size_t>{0}) {
    int64_t axis = node.get_int("axis", 0);
    std::vector<int64_t> index = ints(node, 1, "indices");
    if ((axis < 0 ? axis + rank : axis) == in.axis && index.size() == 1 && index[0] >= 0) {
      np.role = Role::kHeadTake;
      np.head_needs = index[0] + 1;
      return;
    }
  }
  if (node.op_type == "Slice" && streams == std::vector<size_t>{0}) {
    std::vector<int64_t> ends = ints(node, 2, "ends");
    std::vector<int64_t> starts = ints(node, 1, "starts");
    if (ends.size() == 1 && starts.size() == 1 && starts[0] >= 0 && ends[0] >= 0) {
      np.role = Role::kHeadTake;
      np.head_needs = std::min(ends[0], kOpenEnd);
      return;
    }
  }
  problem(node, "its output depends on the whole input along time (not streamable)");
}

// Receptive field propagation: for each stream value the span [t - history, t + lookahead]
// of input frames that its step at frame time t depends on.
struct Span {
  double history = 0, lookahead = 0;
  bool bounded = true;
};

ReceptiveField receptive_field(const Graph& graph, const StreamPlan& plan) {
  std::map<std::string, Span> spans;
  ReceptiveField field;
  auto rate = [&](const std::string& name) { return plan.time.values.at(name).rate; };
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    const NodePlan& np = plan.nodes[i];
    if (np.role == Role::kSkip) continue;
    Span span;
    for (const std::string& name : node.inputs) {
      auto it = spans.find(name);
      if (it != spans.end()) {
        span.history = std::max(span.history, it->second.history);
        span.lookahead = std::max(span.lookahead, it->second.lookahead);
        span.bounded &= it->second.bounded;
      } else if (!name.empty() && plan.time.values.count(name) &&
                 plan.time.values.at(name).kind == ValueKind::kHead) {
        span.bounded = false;
      }
    }
    const double taps = static_cast<double>((np.kernel - 1) * np.dilation);
    switch (np.role) {
      case Role::kConv: {
        const double r = rate(node.inputs[0]);
        span.history += np.pad_begin / r;
        span.lookahead += (taps - np.pad_begin) / r;
        break;
      }
      case Role::kConvTranspose: {
        const double r = rate(node.outputs[0]);
        span.history += (taps - np.pad_begin) / r;
        span.lookahead += np.pad_begin / r;
        break;
      }
      case Role::kPad:
        span.history += np.pad_begin / rate(node.inputs[0]);
        span.lookahead -= np.pad_begin / rate(node.inputs[0]);
        break;
      case Role::kTimeSlice:
        span.history -= np.slice_start / rate(node.inputs[0]);
        span.lookahead += np.slice_start / rate(node.inputs[0]);
        break;
      case Role::kTimeConcat: {
        double before = 0;
        for (size_t k = 0; k < np.stream_input; ++k) {
          const std::string& piece = node.inputs[k];
          auto t = plan.time.values.find(piece);
          before += t != plan.time.values.end()
                        ? static_cast<double>(t->second.probe_shape[0][np.axis])
                        : static_cast<double>(graph.initializers.at(piece).dim(np.axis));
        }
        span.history += before / rate(node.outputs[0]);
        span.lookahead -= before / rate(node.outputs[0]);
        break;
      }
      case Role::kCumSum:
        span.bounded = false;
        if (field.unbounded_because.empty()) {
          field.unbounded_because =
              fmt::format("{} sums over all earlier steps", node.display_name());
        }
        break;
      case Role::kHeadTake:
        if (field.unbounded_because.empty()) {
          field.unbounded_because =
              fmt::format("{} reads a fixed early step of the input", node.display_name());
        }
        span.bounded = false;
        break;
      default:
        break;
    }
    for (const std::string& name : node.outputs) spans[name] = span;
  }
  double history = 0, lookahead = 0;
  for (const ValueInfo& out : graph.outputs) {
    auto it = spans.find(out.name);
    if (it == spans.end()) continue;
    history = std::max(history, it->second.history);
    lookahead = std::max(lookahead, it->second.lookahead);
    field.bounded &= it->second.bounded;
  }
  if (field.bounded) field.unbounded_because.clear();
  constexpr double kRounding = 1e-9;
  field.history_frames = static_cast<int64_t>(std::ceil(std::max(0.0, history) - kRounding));
  field.lookahead_frames = static_cast<int64_t>(std::ceil(std::max(0.0, lookahead) - kRounding));
  return field;
}

}  // namespace

StreamPlan plan_stream(const Graph& graph, const InputTimes& input_times,
                       const KernelOptions& kernels) {
  StreamPlan plan;
  plan.time = analyze_time(graph, input_times, kernels);
  plan.nodes.resize(graph.nodes.size());
  if (!plan.time.problem.empty()) {
    plan.problem = plan.time.problem;
    return plan;
  }
  Planner planner{graph, plan};
  for (const ValueInfo& out : graph.outputs) {
    if (planner.kind_of(out.name) != ValueKind::kStream) {
      plan.problem = fmt::format("output '{}' is not a time series", out.name);
      return plan;
    }
  }
  // Which nodes any output needs: static and length values are known without running.
  std::set<std::string> needed;
  for (const ValueInfo& out : graph.outputs) needed.insert(out.name);
  std::vector<bool> node_needed(graph.nodes.size(), false);
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& node = graph.nodes[i];
    for (const std::string& name : node.outputs)
      node_needed[i] = node_needed[i] || needed.count(name);
    if (!node_needed[i]) continue;
    for (const std::string& name : node.inputs) {
      ValueKind kind = planner.kind_of(name);
      if (kind == ValueKind::kStream || kind == ValueKind::kHead) needed.insert(name);
    }
  }
  for (size_t i = 0; i < graph.nodes.size() && plan.problem.empty(); ++i) {
    const Node& node = graph.nodes[i];
    if (!node_needed[i]) continue;
    std::vector<size_t> streams;
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      ValueKind kind = planner.kind_of(node.inputs[k]);
      if (kind == ValueKind::kStream) streams.push_back(k);
      if (kind == ValueKind::kLength) {
        planner.problem(node, fmt::format("reads '{}', a value computed from the input length, "
                                          "which a stream does not know in advance",
                                          node.inputs[k]));
      }
    }
    if (!plan.problem.empty()) break;
    bool makes_stream = false;
    for (const std::string& name : node.outputs) {
      makes_stream |= planner.kind_of(name) == ValueKind::kStream;
    }
    if (!makes_stream) {
      planner.plan_head_node(node, plan.nodes[i], streams);
    } else if (streams.empty()) {
      planner.problem(node, "makes a time series from no streamed input");
    } else {
      planner.plan_stream_node(node, plan.nodes[i], streams);
    }
  }
  if (plan.problem.empty()) plan.field = receptive_field(graph, plan);
  return plan;
}

}  // namespace amphora::stream
