#include "stream/plan.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "ops/amphora_domain.hpp"
#include "ops/conv/conv_attrs.hpp"

namespace amphora::stream {

namespace {

// Ops whose output step t depends only on input step t whatever their attributes.
const std::set<std::string> kPointwise = {"Snake",  // com.amphora, per-channel constants
                                          "Abs",         "Acos",
                                          "Add",         "And",
                                          "Asin",        "Atan",
                                          "Cast",        "Ceil",
                                          "Clip",        "Cos",
                                          "Cosh",        "Div",
                                          "Dropout",     "Elu",
                                          "Equal",       "Erf",
                                          "Exp",         "Expand",
                                          "Floor",       "Gelu",
                                          "Greater",     "GreaterOrEqual",
                                          "HardSigmoid", "Identity",
                                          "IsInf",       "IsNaN",
                                          "LeakyRelu",   "Less",
                                          "LessOrEqual", "Log",
                                          "Max",         "Mean",
                                          "Min",         "Mod",
                                          "Mul",         "Neg",
                                          "Not",         "Or",
                                          "Pow",         "PRelu",
                                          "Reciprocal",  "Relu",
                                          "Reshape",     "Round",
                                          "Selu",        "Sigmoid",
                                          "Sign",        "Sin",
                                          "Sinh",        "Softplus",
                                          "Sqrt",        "Squeeze",
                                          "Sub",         "Sum",
                                          "Tan",         "Tanh",
                                          "Transpose",   "Unsqueeze",
                                          "Where",       "Xor",
                                          "Flatten"};

constexpr int64_t kOpenEnd = int64_t{1} << 31;  // Slice ends at or beyond this mean "to the end"

struct Planner {
  const Graph& graph;
  StreamPlan& plan;

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
  const Tensor* constant(const std::string& name) const {
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

  void plan_conv(const Node& node, NodePlan& np, bool transpose);
  void plan_stream_node(const Node& node, NodePlan& np, const std::vector<size_t>& streams);
  void plan_head_node(const Node& node, NodePlan& np, const std::vector<size_t>& streams);
  void check_local(const Node& node, const std::vector<size_t>& streams);
};

void Planner::plan_conv(const Node& node, NodePlan& np, bool transpose) {
  const ValueTime& x = *time_of(node.inputs[0]);
  const Tensor* weight = node.inputs.size() > 1 ? constant(node.inputs[1]) : nullptr;
  if (x.probe_shape[0].size() != 3 || x.axis != 2 || !weight || weight->rank() != 3) {
    return problem(node,
                   "the streamer handles 1-D convolutions over time with constant "
                   "weights only");
  }
  ConvAttrs attrs = ConvAttrs::parse(node, transpose);
  if (attrs.auto_pad != AutoPad::kNotSet && attrs.auto_pad != AutoPad::kValid) {
    return problem(node, "auto_pad SAME is not supported by the streamer");
  }
  if (!attrs.output_shape.empty()) return problem(node, "output_shape is not supported");
  np.role = transpose ? Role::kConvTranspose : Role::kConv;
  np.axis = 2;
  np.kernel = weight->dim(2);
  if (!attrs.strides.empty()) np.stride = attrs.strides[0];
  if (!attrs.dilations.empty()) np.dilation = attrs.dilations[0];
  if (attrs.auto_pad == AutoPad::kNotSet && attrs.pads.size() == 2) {
    np.pad_begin = attrs.pads[0];
    np.pad_end = attrs.pads[1];
  }
  if (!attrs.output_padding.empty()) np.output_padding = attrs.output_padding[0];
  np.kernel_node = node;
  np.kernel_node.attributes.erase("auto_pad");
  np.kernel_node.attributes.erase("output_padding");
  np.kernel_node.attributes["pads"] = std::vector<int64_t>{0, 0};
  if (transpose && node.inputs.size() > 2) {
    np.bias = node.inputs[2];
    np.kernel_node.inputs.resize(2);
  }
}

void Planner::plan_stream_node(const Node& node, NodePlan& np, const std::vector<size_t>& streams) {
  const std::string& op = node.op_type;
  const ValueTime& in = *time_of(node.inputs[streams[0]]);
  const ValueTime& out = *time_of(node.outputs[0]);
  np.axis = in.axis;
  np.kernel_node = node;
  if (op == "Conv" || op == "ConvTranspose") return plan_conv(node, np, op == "ConvTranspose");
  if (node.domain == kAmphoraDomain && (op == "FusedConv" || op == "FusedConvTranspose")) {
    if (node.get_string("pad_mode", "constant") != "constant") {
      return problem(node,
                     "its reflect padding is fused in (an offline rewrite); the streamer "
                     "needs the Pad node");
    }
    const bool transpose = op == "FusedConvTranspose";
    const bool has_sum = node.inputs.size() > 3 && !node.inputs[3].empty();
    if (has_sum &&
        (kind_of(node.inputs[3]) != ValueKind::kStream || time_of(node.inputs[3])->axis != 2 ||
         time_of(node.inputs[3])->probe_shape[0] != time_of(node.outputs[0])->probe_shape[0])) {
      return problem(node, "its fused residual is not a time series shaped like its output");
    }
    plan_conv(node, np, transpose);
    if (transpose) {
      // The overlap-add completes an output step only when later inputs have arrived, so the
      // streamer applies the fused activation and residual itself, after the bias.
      np.activation = node.get_string("activation", "");
      np.activation_alpha = node.get_float("alpha", 0.01f);
      if (has_sum) np.sum = node.inputs[3];
      np.kernel_node.attributes.erase("activation");
      np.kernel_node.attributes.erase("alpha");
    }
    return;
  }
  if (op == "Pad" && streams[0] == 0) {
    std::vector<int64_t> pads = ints(node, 1, "pads");
    const int64_t rank = rank_of(node.inputs[0]);
    if (node.inputs.size() > 3 && !node.inputs[3].empty()) {
      return problem(node, "Pad with an axes input is not supported by the streamer");
    }
    if (pads.empty() && node.has("pads")) pads = node.get_ints("pads");
    if (static_cast<int64_t>(pads.size()) != 2 * rank) return problem(node, "unexpected pads");
    for (int64_t a = 0; a < rank; ++a) {
      if (a == in.axis) continue;
      if (pads[a] != 0 || pads[rank + a] != 0) {
        return problem(node, "pads axes other than time as well; not supported by the streamer");
      }
    }
    np.pad_begin = pads[in.axis];
    np.pad_end = pads[rank + in.axis];
    if (np.pad_begin < 0 || np.pad_end < 0) return problem(node, "negative (cropping) pads");
    np.pad_mode = node.get_string("mode", "constant");
    if (np.pad_mode != "constant" && np.pad_mode != "reflect" && np.pad_mode != "edge") {
      return problem(node, fmt::format("pad mode '{}' is not supported", np.pad_mode));
    }
    if (node.inputs.size() > 2 && !node.inputs[2].empty()) {
      const Tensor* value = constant(node.inputs[2]);
      if (!value) return problem(node, "its pad value depends on the input");
      np.pad_value = value->to_float_vector().at(0);
    }
    np.role = np.pad_begin || np.pad_end ? Role::kPad : Role::kLocal;
    if (np.role == Role::kLocal) check_local(node, streams);
    return;
  }
  if (op == "Slice" && streams[0] == 0) {
    std::vector<int64_t> starts = ints(node, 1, "starts");
    std::vector<int64_t> ends = ints(node, 2, "ends");
    std::vector<int64_t> axes = ints(node, 3, "axes");
    std::vector<int64_t> steps = ints(node, 4, "steps");
    const int64_t rank = rank_of(node.inputs[0]);
    if (axes.empty()) {
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    }
    int time_entry = -1;
    for (size_t i = 0; i < axes.size(); ++i) {
      if ((axes[i] < 0 ? axes[i] + rank : axes[i]) == in.axis) time_entry = static_cast<int>(i);
    }
    if (time_entry < 0) return (np.role = Role::kLocal, check_local(node, streams));
    if (axes.size() != 1) return problem(node, "slices time and other axes at once");
    if (!steps.empty() && steps[0] != 1) return problem(node, "strided Slice along time");
    if (starts[0] < 0) return problem(node, "slices from the end of the input (not known yet)");
    if (ends[0] >= 0 && ends[0] < kOpenEnd) {
      return problem(node, "cuts a fixed length out of a time series");
    }
    np.role = Role::kTimeSlice;
    np.slice_start = starts[0];
    np.slice_hold = ends[0] < 0 ? -ends[0] : 0;
    return;
  }
  if (op == "Concat") {
    const int64_t rank = static_cast<int64_t>(out.probe_shape[0].size());
    int64_t axis = node.get_int("axis");
    if (axis < 0) axis += rank;
    if (axis != out.axis) return (np.role = Role::kLocal, check_local(node, streams));
    if (streams.size() != 1) return problem(node, "joins two time series end to end");
    np.role = Role::kTimeConcat;
    np.stream_input = streams[0];
    np.axis = axis;
    return;
  }
  if (op == "CumSum") {
    std::vector<int64_t> axis = ints(node, 1, "axis");
    const int64_t rank = rank_of(node.inputs[0]);
    if (axis.size() != 1) return problem(node, "CumSum axis must be a constant");
    if ((axis[0] < 0 ? axis[0] + rank : axis[0]) != in.axis) {
      return (np.role = Role::kLocal, check_local(node, streams));
    }
    if (node.get_int("exclusive", 0) || node.get_int("reverse", 0)) {
      return problem(node, "exclusive or reverse CumSum along time");
    }
    np.role = Role::kCumSum;
    return;
  }
  np.role = Role::kLocal;
  check_local(node, streams);
}

// A Resize that scales time streams only when output step j is input step floor(j / s) for
// its integer scale s, independent of the length: nearest neighbour with half-pixel
// coordinates (either rounding; a tie cannot occur) or asymmetric ones with floor, and scales
// rather than absolute sizes. Returns why not, or "".
std::string resize_time_problem(const Node& node) {
  const std::string mode = node.get_string("mode", "nearest");
  const std::string coordinates = node.get_string("coordinate_transformation_mode", "half_pixel");
  const std::string rounding = node.get_string("nearest_mode", "round_prefer_floor");
  const bool half_pixel = coordinates == "half_pixel" || coordinates == "pytorch_half_pixel";
  const bool floor_of_ratio =
      mode == "nearest" && ((half_pixel && rounding.rfind("round_prefer_", 0) == 0) ||
                            (coordinates == "asymmetric" && rounding == "floor"));
  if (!floor_of_ratio) {
    return fmt::format(
        "resizes the time axis with mode '{}', coordinates '{}', rounding '{}' "
        "(streams only nearest with half_pixel or asymmetric+floor)",
        mode, coordinates, rounding);
  }
  if (node.inputs.size() > 3 && !node.inputs[3].empty()) {
    return "resizes the time axis to absolute sizes (only scales stream)";
  }
  return "";
}

// Local ops: the axis an op works along must not be time, stream inputs must share their
// time steps, and each output step count must be a fixed multiple of the input's.
void Planner::check_local(const Node& node, const std::vector<size_t>& streams) {
  const std::string& op = node.op_type;
  const ValueTime& in = *time_of(node.inputs[streams[0]]);
  const int64_t rank = static_cast<int64_t>(in.probe_shape[0].size());
  auto along_time = [&](int64_t axis) { return (axis < 0 ? axis + rank : axis) == in.axis; };
  if (op == "Softmax" || op == "LogSoftmax" || op == "Gather" || op == "Split" || op == "Concat") {
    if (streams[0] == 0 &&
        along_time(
            node.get_int("axis", op == "Gather" || op == "Split" || op == "Concat" ? 0 : -1))) {
      return problem(node, "works along the time axis");
    }
    if (op == "Gather" && streams.size() > 1) return problem(node, "gathers with streamed indices");
  } else if (op == "LayerNormalization") {
    int64_t axis = node.get_int("axis", -1);
    if (axis < 0) axis += rank;
    if (in.axis >= axis) return problem(node, "normalises over the time axis");
  } else if (op.rfind("Reduce", 0) == 0) {
    std::vector<int64_t> axes = node.get_ints("axes");
    if (axes.empty() && node.inputs.size() > 1) axes = ints(node, 1, "axes");
    if (axes.empty()) return problem(node, "reduces over every axis, time included");
    for (int64_t axis : axes) {
      if (along_time(axis)) return problem(node, "reduces over the time axis");
    }
  } else if (op == "MatMul" || op == "FusedMatMul") {  // com.amphora's: B is a constant
    if (streams.size() > 1) return problem(node, "multiplies two time series");
    if (streams[0] == 0 && in.axis == rank - 1) return problem(node, "contracts the time axis");
    if (streams[0] == 1 && in.axis == rank - 2) return problem(node, "contracts the time axis");
  } else if (op == "Resize") {
    const ValueTime* out = time_of(node.outputs[0]);
    const bool scales_time = out && out->kind == ValueKind::kStream &&
                             out->probe_shape[0][out->axis] != in.probe_shape[0][in.axis];
    if (const std::string why = scales_time ? resize_time_problem(node) : ""; !why.empty()) {
      return problem(node, why);
    }
  } else if (op == "Slice" || op == "Pad") {
    // time axis untouched: checked by the caller
  } else if (!kPointwise.count(op)) {
    return problem(node, fmt::format("{} over a time series is not supported by the streamer "
                                     "(yet)",
                                     op));
  }
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
    if (op == "Reshape" || op == "Flatten") {  // time must not merge with an outer axis
      int64_t before_in = 1, before_out = 1;
      for (int64_t a = 0; a < in.axis; ++a) before_in *= in.probe_shape[0][a];
      for (int64_t a = 0; a < out->axis; ++a) before_out *= out->probe_shape[0][a];
      if (before_in != before_out) return problem(node, "reshapes across the time axis");
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
