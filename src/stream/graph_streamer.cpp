#include "stream/graph_streamer.hpp"

#include <algorithm>
#include <deque>
#include <limits>

#include "ops/conv/conv_fast_path.hpp"
#include "runtime/execution.hpp"
#include "stream/time_slices.hpp"

namespace amphora::stream {

namespace {

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The retained steps [begin, end) of one streamed value. Readers (node inputs, the output
// collector) each say from which step they still need it; older steps are dropped. The steps
// are kept as the pieces they arrived in -- a piece may be a part of a larger tensor along the
// axis -- so appending copies nothing, a reader that takes exactly one whole tensor (an
// element-wise node after a conv) gets it without a copy, and any other view is gathered from
// the pieces in one pass.
struct Buffer {
  struct Piece {
    int64_t begin;  // step of the piece's first entry
    Tensor data;
    int64_t offset;  // index along axis in data of that entry
    int64_t length;
  };
  int64_t axis = -1;
  std::deque<Piece> pieces;  // consecutive; the first may start before `begin`
  int64_t begin = 0, end = 0;
  bool finished = false;
  std::vector<int64_t> reader_needs;

  int add_reader() {
    reader_needs.push_back(0);
    return static_cast<int>(reader_needs.size() - 1);
  }
  bool empty() const { return pieces.empty(); }
  // A tensor with the stream's dtype and non-time dims (for padding of the same kind).
  const Tensor& like() const { return pieces.back().data; }
  void append(const Tensor& chunk) { append(chunk, 0, chunk.dim(axis)); }
  // Entries [offset, offset + length) of `data` along the axis.
  void append(const Tensor& data, int64_t offset, int64_t length) {
    if (length == 0) return;
    pieces.push_back({end, data, offset, length});
    end += length;
  }
  // Steps [from, to) as spans of the pieces. With `zeros_outside`, steps before 0 and from
  // `end` on are zeros (a convolution's padding); otherwise they must be retained.
  std::vector<AxisSpan> spans(int64_t from, int64_t to, bool zeros_outside = false) const {
    std::vector<AxisSpan> out;
    int64_t trail = 0;
    if (zeros_outside) {
      const int64_t lead = std::clamp<int64_t>(-from, 0, to - from);
      trail = std::clamp<int64_t>(to - std::max(from, end), 0, to - from - lead);
      if (lead > 0) out.push_back({nullptr, 0, lead});
      from += lead;
      to -= trail;
      if (from == to) from = to = end;  // all padding
    }
    if (from < begin || to > end || from > to || pieces.empty()) {
      fail(ErrorCode::kInternal, "stream steps [{}, {}) requested, [{}, {}) retained", from, to,
           begin, end);
    }
    for (const Piece& piece : pieces) {
      const int64_t lo = std::max(from, piece.begin), hi = std::min(to, piece.begin + piece.length);
      if (hi > lo) out.push_back({&piece.data, piece.offset + lo - piece.begin, hi - lo});
    }
    if (trail > 0) out.push_back({nullptr, 0, trail});
    return out;
  }
  Tensor view(int64_t from, int64_t to, bool zeros_outside = false) const {
    const std::vector<AxisSpan> parts = spans(from, to, zeros_outside);
    if (parts.size() == 1 && parts[0].source && parts[0].start == 0 &&
        parts[0].length == parts[0].source->dim(axis)) {
      return *parts[0].source;
    }
    return join_axis(parts, like(), axis);
  }
  void trim() {
    int64_t keep_from = end;
    for (int64_t need : reader_needs) keep_from = std::min(keep_from, need);
    if (keep_from <= begin || pieces.empty()) return;
    begin = keep_from;
    while (!pieces.empty() && pieces.front().begin + pieces.front().length <= begin) {
      if (pieces.size() == 1) {
        // Everything was read: keep an empty piece, so that later views still know the shape.
        pieces.front() = {end, pieces.front().data, 0, 0};
        break;
      }
      pieces.pop_front();
    }
  }
};

struct NodeState {
  std::unique_ptr<Kernel> kernel;
  PiecewiseConv* piecewise = nullptr;  // kConv: the kernel, where it reads X as pieces
  std::vector<int> readers;  // per input slot: reader id in its buffer, -1 if not streamed
  int64_t done = 0;          // steps consumed (or, for Conv, outputs made)
  bool started = false;      // Pad/TimeConcat prefix emitted; head value taken
  bool finished = false;
  Tensor carry;  // CumSum: last output step; ConvTranspose: its overlap-add sums, see there
  // ConvTranspose: uncropped output positions [carry_begin, carry_end) are not emitted yet and
  // are columns from carry_offset on of carry.
  int64_t carry_begin = 0, carry_end = 0, carry_offset = 0;
  int64_t emitted = 0;  // ConvTranspose: uncropped positions emitted so far
};

}  // namespace

struct GraphStreamer::State {
  std::shared_ptr<const Graph> graph;
  std::shared_ptr<const StreamPlan> plan;
  std::shared_ptr<KernelPool> pool;
  int threads = 0;
  std::vector<NodeState> nodes;
  std::map<std::string, Buffer> streams;
  std::map<std::string, Tensor> heads;
  std::map<std::string, int> output_readers;
  bool first_push = true;

  const Tensor* fixed(const std::string& name) const {
    if (auto it = graph->initializers.find(name); it != graph->initializers.end()) {
      return &it->second;
    }
    if (auto it = plan->time.constants.find(name); it != plan->time.constants.end()) {
      return &it->second;
    }
    if (auto it = heads.find(name); it != heads.end()) return &it->second;
    return nullptr;
  }

  std::vector<Tensor> run_kernel(size_t index, const std::vector<const Tensor*>& args) {
    return run_node(*nodes[index].kernel, graph->nodes[index], args, "streaming");
  }

  // Arguments with streamed inputs cut to [from, to) (left null when `from` < 0: the caller
  // supplies them); false when a head value is not ready yet.
  bool gather_args(size_t index, int64_t from, int64_t to, std::vector<Tensor>& cut,
                   std::vector<const Tensor*>& args) {
    const Node& node = plan->nodes[index].kernel_node;
    cut.assign(node.inputs.size(), Tensor());
    args.assign(node.inputs.size(), nullptr);
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const std::string& name = node.inputs[k];
      if (name.empty()) continue;
      if (auto it = streams.find(name); it != streams.end()) {
        if (from < 0) continue;
        cut[k] = it->second.view(from, to);
        args[k] = &cut[k];
      } else if (const Tensor* value = fixed(name)) {
        args[k] = value;
      } else {
        return false;
      }
    }
    return true;
  }

  Tensor run_piecewise(size_t index, int64_t lo, int64_t hi, const std::vector<const Tensor*>& args,
                       const Buffer* sum, int64_t outputs);

  Buffer& input(size_t index, size_t slot) { return streams.at(graph->nodes[index].inputs[slot]); }
  void need(size_t index, size_t slot, int64_t from) {
    const int reader = nodes[index].readers[slot];
    if (reader >= 0) input(index, slot).reader_needs[reader] = from;
  }
  void emit(size_t index, const Tensor& chunk, size_t output = 0) {
    streams.at(graph->nodes[index].outputs[output]).append(chunk);
  }
  void finish_outputs(size_t index) {
    nodes[index].finished = true;
    for (const std::string& name : graph->nodes[index].outputs) {
      if (auto it = streams.find(name); it != streams.end()) it->second.finished = true;
    }
  }

  void step_local(size_t i);
  void step_conv(size_t i);
  void step_conv_transpose(size_t i);
  void step_pad(size_t i);
  void step_time_slice(size_t i);
  void step_time_concat(size_t i);
  void step_cumsum(size_t i);
  void step_head(size_t i);
  void step_all();
  std::map<std::string, Tensor> collect();
};

void GraphStreamer::State::step_local(size_t i) {
  const Node& node = graph->nodes[i];
  NodeState& st = nodes[i];
  int64_t available = std::numeric_limits<int64_t>::max();
  bool all_finished = true;
  for (size_t k = 0; k < node.inputs.size(); ++k) {
    if (st.readers[k] < 0) continue;
    const Buffer& in = input(i, k);
    available = std::min(available, in.end);
    all_finished &= in.finished;
  }
  if (available > st.done) {
    std::vector<Tensor> cut;
    std::vector<const Tensor*> args;
    if (!gather_args(i, st.done, available, cut, args)) return;
    std::vector<Tensor> results = run_kernel(i, args);
    for (size_t o = 0; o < node.outputs.size() && o < results.size(); ++o) {
      if (streams.count(node.outputs[o])) emit(i, results[o], o);
    }
    st.done = available;
    for (size_t k = 0; k < node.inputs.size(); ++k) need(i, k, st.done);
  }
  if (all_finished && st.done == available) finish_outputs(i);
}

void GraphStreamer::State::step_conv(size_t i) {
  const NodePlan& np = plan->nodes[i];
  NodeState& st = nodes[i];
  const Buffer& x = input(i, 0);
  const int64_t taps = (np.kernel - 1) * np.dilation;
  // Outputs whose whole window has arrived (the end padding only once the input has ended).
  const int64_t reach = x.finished ? x.end + np.pad_end : x.end;
  const int64_t last = floor_div(reach - 1 + np.pad_begin - taps, np.stride);
  int64_t outputs = std::max<int64_t>(last + 1, 0);
  // A fused residual (FusedConv's Sum input) must have arrived for the same output steps.
  const Node& node = graph->nodes[i];
  const bool streamed_sum = node.inputs.size() > 3 && nodes[i].readers[3] >= 0;
  if (streamed_sum) outputs = std::min(outputs, input(i, 3).end);
  if (outputs > st.done) {
    const int64_t lo = st.done * np.stride - np.pad_begin;
    const int64_t hi = (outputs - 1) * np.stride - np.pad_begin + taps + 1;
    std::vector<Tensor> cut;
    std::vector<const Tensor*> args;
    if (!gather_args(i, -1, -1, cut, args)) return;
    // Steps outside the input are the conv's zero padding (the end padding only once the
    // input has ended, by `reach` above). The kernel reads the window (history and new steps)
    // and the residual as the pieces they are kept in where it can; otherwise they are joined.
    Tensor y = run_piecewise(i, lo, hi, args, streamed_sum ? &input(i, 3) : nullptr, outputs);
    if (y.empty()) {
      Tensor window = x.view(lo, hi, /*zeros_outside=*/true);
      args[0] = &window;
      Tensor sum;
      if (streamed_sum) {
        sum = input(i, 3).view(st.done, outputs);
        args[3] = &sum;
      }
      y = run_kernel(i, args).at(0);
    }
    emit(i, y);
    st.done = outputs;
    need(i, 0, std::max<int64_t>(0, outputs * np.stride - np.pad_begin));
    if (streamed_sum) need(i, 3, outputs);
  }
  if (x.finished && outputs == st.done && (!streamed_sum || input(i, 3).finished)) {
    finish_outputs(i);
  }
}

namespace {

// The spans of a float32 [1, C, T] stream as the conv kernels' pieces; false for other streams.
bool as_pieces(const Buffer& buffer, const std::vector<AxisSpan>& spans,
               std::vector<TimePiece>& pieces) {
  const Tensor& like = buffer.like();
  if (buffer.axis != 2 || like.rank() != 3 || like.dim(0) != 1 ||
      like.dtype() != DType::kFloat32) {
    return false;
  }
  pieces.clear();
  for (const AxisSpan& span : spans) {
    pieces.push_back({span.source ? span.source->data<float>() : nullptr,
                      span.source ? span.source->dim(2) : 0, span.start, span.length});
  }
  return true;
}

}  // namespace

// Conv node `index` over input steps [lo, hi) (zeros outside the input) with the residual `sum`
// for its outputs [done, outputs), read in place by its PiecewiseConv; empty where it declines.
Tensor GraphStreamer::State::run_piecewise(size_t index, int64_t lo, int64_t hi,
                                           const std::vector<const Tensor*>& args,
                                           const Buffer* sum, int64_t outputs) {
  NodeState& st = nodes[index];
  const Buffer& x = input(index, 0);
  std::vector<TimePiece> x_pieces, sum_pieces;
  if (!st.piecewise || !args[1] || !as_pieces(x, x.spans(lo, hi, true), x_pieces) ||
      (sum && !as_pieces(*sum, sum->spans(st.done, outputs), sum_pieces))) {
    return {};
  }
  const Shape x_shape{1, x.like().dim(1), hi - lo};
  const Tensor* bias = args.size() > 2 ? args[2] : nullptr;
  return run_named(
             graph->nodes[index],
             [&] {
               return std::vector<Tensor>{st.piecewise->run_pieces(
                   x_shape, x_pieces, *args[1], bias, sum ? &sum_pieces : nullptr)};
             },
             "streaming")
      .at(0);
}

// Adds `add` ([N, C, length]) into columns [column, column + length) of `acc` ([N, C, width]).
void add_columns(Tensor& acc, int64_t column, const Tensor& add, int64_t add_offset,
                 int64_t length) {
  const int64_t rows = acc.dim(0) * acc.dim(1), width = acc.dim(2), add_width = add.dim(2);
  float* to = acc.data<float>();
  const float* from = add.data<float>();
#pragma omp parallel for schedule(static) if (rows * length > (int64_t{1} << 15))
  for (int64_t r = 0; r < rows; ++r) {
    float* row = to + r * width + column;
    const float* src = from + r * add_width + add_offset;
    for (int64_t t = 0; t < length; ++t) row[t] += src[t];
  }
}

// FusedConvTranspose's bias and activation, in place on columns [column, column + length) of
// `out`, which hold complete output steps.
void finish_columns(const NodePlan& np, const Tensor* bias, Tensor& out, int64_t column,
                    int64_t length) {
  if (!bias && np.post.activation == ConvPostOps::Activation::kNone) return;
  const int64_t channels = out.dim(1), width = out.dim(2), rows = out.dim(0) * channels;
  const float* bias_values = bias ? bias->data<float>() : nullptr;
  float* values = out.data<float>();
#pragma omp parallel for schedule(static) if (rows * length > (int64_t{1} << 15))
  for (int64_t r = 0; r < rows; ++r) {
    float* row = values + r * width + column;
    if (bias_values) {
      for (int64_t t = 0; t < length; ++t) row[t] += bias_values[r % channels];
    }
    apply_activation(np.post, row, length);
  }
}

// Output position p (before cropping pad_begin) of a transposed convolution sums input steps
// i with i*stride <= p, so positions below (steps seen)*stride are final. The kernel runs
// without bias on each new input slice, and the sums not yet final (the carry) are added into
// its output, which becomes the next carry. Final positions are finished in place and emitted
// as a part of that tensor, so no step is copied.
void GraphStreamer::State::step_conv_transpose(size_t i) {
  const NodePlan& np = plan->nodes[i];
  NodeState& st = nodes[i];
  const Buffer& x = input(i, 0);
  const int64_t taps = (np.kernel - 1) * np.dilation;
  // Makes the carry cover [carry_begin, end) with `partial` (covering [at, at + its length))
  // added in; it is reused as the carry when it already covers everything.
  auto merge = [&st](Tensor partial, int64_t at, int64_t end) {
    const int64_t begin = st.carry.empty() ? at : std::min(st.carry_begin, at);
    end = std::max({end, at + partial.dim(2), st.carry.empty() ? at : st.carry_end});
    Tensor acc = partial;
    if (begin != at || end != at + partial.dim(2)) {
      Shape shape = partial.shape();
      shape[2] = end - begin;
      acc = Tensor(DType::kFloat32, shape);
      add_columns(acc, at - begin, partial, 0, partial.dim(2));
    }
    if (!st.carry.empty()) {
      add_columns(acc, st.carry_begin - begin, st.carry, st.carry_offset,
                  st.carry_end - st.carry_begin);
    }
    st.carry = acc;
    st.carry_begin = begin;
    st.carry_end = end;
    st.carry_offset = 0;
  };
  if (x.end > st.done) {
    std::vector<Tensor> cut;
    std::vector<const Tensor*> args;
    if (!gather_args(i, st.done, x.end, cut, args)) return;
    const int64_t at = st.done * np.stride;
    merge(run_kernel(i, args).at(0), at, at);
    st.done = x.end;
    need(i, 0, st.done);
  }
  if (st.carry.empty()) {
    if (x.finished) finish_outputs(i);
    return;
  }
  // The smallest full length any input of st.done steps or more can have.
  const int64_t full_min = (st.done - 1) * np.stride + taps + 1 + np.output_padding;
  int64_t final_end = std::min(st.done * np.stride, full_min - np.pad_end);
  if (x.finished) {
    final_end = full_min - np.pad_end;
    if (full_min > st.carry_end) merge(filled_along(st.carry, 2, 0, 0.0), st.carry_end, full_min);
  }
  const bool streamed_sum = !np.sum.empty();
  if (streamed_sum) final_end = std::min(final_end, input(i, 3).end + np.pad_begin);
  const int64_t from = std::max(st.emitted, np.pad_begin);
  if (final_end > from) {
    const int64_t column = st.carry_offset + from - st.carry_begin, length = final_end - from;
    finish_columns(np, np.bias.empty() ? nullptr : fixed(np.bias), st.carry, column, length);
    if (streamed_sum) {
      int64_t at = column;
      for (const AxisSpan& span :
           input(i, 3).spans(from - np.pad_begin, final_end - np.pad_begin)) {
        add_columns(st.carry, at, *span.source, span.start, span.length);
        at += span.length;
      }
      need(i, 3, final_end - np.pad_begin);
    }
    streams.at(graph->nodes[i].outputs[0]).append(st.carry, column, length);
    st.emitted = final_end;
    st.carry_offset += final_end - st.carry_begin;
    st.carry_begin = final_end;
  }
  if (x.finished && (!streamed_sum || input(i, 3).finished)) finish_outputs(i);
}

void GraphStreamer::State::step_pad(size_t i) {
  const NodePlan& np = plan->nodes[i];
  NodeState& st = nodes[i];
  const Buffer& x = input(i, 0);
  const Node& node = graph->nodes[i];
  const bool reflect = np.pad_mode == "reflect";
  auto too_short = [&](int64_t pad) {
    fail(ErrorCode::kInvalidArgument,
         "streaming {}: {} padding of {} steps needs more than {} input steps", node.display_name(),
         np.pad_mode, pad, x.end);
  };
  if (!st.started) {
    const int64_t needs = reflect ? np.pad_begin + 1 : 1;
    if (x.end < needs) {
      if (x.finished) too_short(np.pad_begin);
      return;
    }
    std::vector<Tensor> prefix;
    if (np.pad_mode == "constant") {
      prefix.push_back(filled_along(x.like(), x.axis, np.pad_begin, np.pad_value));
    } else {
      for (int64_t j = np.pad_begin; j >= 1; --j)
        prefix.push_back(x.view(reflect ? j : 0, (reflect ? j : 0) + 1));
    }
    if (np.pad_begin > 0) emit(i, concat_axis(prefix, x.axis));
    st.started = true;
  }
  if (x.end > st.done) {
    emit(i, x.view(st.done, x.end));
    st.done = x.end;
    const int64_t keep = np.pad_mode == "constant" ? 0 : reflect ? np.pad_end + 1 : 1;
    need(i, 0, std::max<int64_t>(0, st.done - keep));
  }
  if (!x.finished) return;
  if (np.pad_end > 0) {
    const int64_t n = x.end;
    if (reflect && n <= np.pad_end) too_short(np.pad_end);
    std::vector<Tensor> suffix;
    if (np.pad_mode == "constant") {
      suffix.push_back(filled_along(x.like(), x.axis, np.pad_end, np.pad_value));
    } else {
      for (int64_t j = 1; j <= np.pad_end; ++j) {
        const int64_t at = reflect ? n - 1 - j : n - 1;
        suffix.push_back(x.view(at, at + 1));
      }
    }
    emit(i, concat_axis(suffix, x.axis));
  }
  finish_outputs(i);
}

void GraphStreamer::State::step_time_slice(size_t i) {
  const NodePlan& np = plan->nodes[i];
  NodeState& st = nodes[i];
  const Buffer& x = input(i, 0);
  const int64_t from = std::max(st.done, np.slice_start);
  const int64_t to = x.end - np.slice_hold;
  if (to > from) {
    emit(i, x.view(from, to));
    st.done = to;
  }
  need(i, 0, std::max(st.done, np.slice_start));
  if (x.finished) finish_outputs(i);
}

void GraphStreamer::State::step_time_concat(size_t i) {
  const NodePlan& np = plan->nodes[i];
  const Node& node = graph->nodes[i];
  NodeState& st = nodes[i];
  auto pieces = [&](size_t from, size_t to) -> std::optional<std::vector<Tensor>> {
    std::vector<Tensor> parts;
    for (size_t k = from; k < to; ++k) {
      const Tensor* piece = fixed(node.inputs[k]);
      if (!piece) return std::nullopt;
      parts.push_back(*piece);
    }
    return parts;
  };
  if (!st.started) {
    auto prefix = pieces(0, np.stream_input);
    if (!prefix) return;
    if (!prefix->empty()) emit(i, concat_axis(*prefix, np.axis));
    st.started = true;
  }
  const Buffer& x = input(i, np.stream_input);
  if (x.end > st.done) {
    emit(i, x.view(st.done, x.end));
    st.done = x.end;
    need(i, np.stream_input, st.done);
  }
  if (x.finished) {
    auto suffix = pieces(np.stream_input + 1, node.inputs.size());
    if (!suffix) return;
    if (!suffix->empty()) emit(i, concat_axis(*suffix, np.axis));
    finish_outputs(i);
  }
}

// The running sum continues exactly: the previous last sum is prepended to the new steps, so
// every addition happens in the same order as over the whole input.
void GraphStreamer::State::step_cumsum(size_t i) {
  NodeState& st = nodes[i];
  const Buffer& x = input(i, 0);
  const int64_t axis = x.axis;
  if (x.end > st.done) {
    std::vector<Tensor> cut;
    std::vector<const Tensor*> args;
    if (!gather_args(i, st.done, x.end, cut, args)) return;
    Tensor with_carry = st.carry.empty() ? cut[0] : concat_axis({st.carry, cut[0]}, axis);
    args[0] = &with_carry;
    Tensor sums = run_kernel(i, args).at(0);
    if (!st.carry.empty()) sums = slice_axis(sums, axis, 1, sums.dim(axis) - 1);
    st.carry = slice_axis(sums, axis, sums.dim(axis) - 1, 1);
    emit(i, sums);
    st.done = x.end;
    need(i, 0, st.done);
  }
  if (x.finished) finish_outputs(i);
}

void GraphStreamer::State::step_head(size_t i) {
  const NodePlan& np = plan->nodes[i];
  const Node& node = graph->nodes[i];
  NodeState& st = nodes[i];
  if (st.started) return;
  std::vector<Tensor> cut;
  std::vector<const Tensor*> args;
  if (np.role == Role::kHeadTake) {
    const Buffer& x = input(i, 0);
    if (x.end < np.head_needs && !x.finished) return;
    if (x.end == 0) {
      fail(ErrorCode::kInvalidArgument, "streaming {}: input '{}' ended before its first step",
           node.display_name(), node.inputs[0]);
    }
    if (!gather_args(i, 0, std::min(x.end, np.head_needs), cut, args)) return;
    need(i, 0, std::numeric_limits<int64_t>::max());
  } else if (!gather_args(i, 0, 0, cut, args)) {
    return;
  }
  std::vector<Tensor> results = run_kernel(i, args);
  for (size_t o = 0; o < node.outputs.size() && o < results.size(); ++o) {
    heads[node.outputs[o]] = results[o];
  }
  st.started = st.finished = true;
}

void GraphStreamer::State::step_all() {
  for (size_t i = 0; i < graph->nodes.size(); ++i) {
    if (nodes[i].finished) continue;
    switch (plan->nodes[i].role) {
      case Role::kSkip:
        break;
      case Role::kLocal:
        step_local(i);
        break;
      case Role::kConv:
        step_conv(i);
        break;
      case Role::kConvTranspose:
        step_conv_transpose(i);
        break;
      case Role::kPad:
        step_pad(i);
        break;
      case Role::kTimeSlice:
        step_time_slice(i);
        break;
      case Role::kTimeConcat:
        step_time_concat(i);
        break;
      case Role::kCumSum:
        step_cumsum(i);
        break;
      case Role::kHeadTake:
      case Role::kHeadLocal:
        step_head(i);
        break;
    }
  }
  for (auto& [name, buffer] : streams) buffer.trim();
}

std::map<std::string, Tensor> GraphStreamer::State::collect() {
  std::map<std::string, Tensor> out;
  for (auto& [name, reader] : output_readers) {
    Buffer& buffer = streams.at(name);
    const int64_t from = buffer.reader_needs[reader];
    out[name] = buffer.empty() ? Tensor() : buffer.view(from, buffer.end);
    buffer.reader_needs[reader] = buffer.end;
    buffer.trim();
  }
  return out;
}

KernelPool::Kernels KernelPool::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.empty()) return {};
  Kernels kernels = std::move(idle_.back());
  idle_.pop_back();
  return kernels;
}

void KernelPool::give_back(Kernels kernels) {
  std::lock_guard<std::mutex> lock(mutex_);
  idle_.push_back(std::move(kernels));
}

GraphStreamer::GraphStreamer(std::shared_ptr<const Graph> graph,
                             std::shared_ptr<const StreamPlan> plan, const KernelOptions& options,
                             std::shared_ptr<KernelPool> pool)
    : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.graph = std::move(graph);
  s.pool = std::move(pool);
  KernelPool::Kernels pooled = s.pool ? s.pool->take() : KernelPool::Kernels{};
  s.plan = std::move(plan);
  s.threads = options.threads;
  for (const auto& [name, time] : s.plan->time.values) {
    if (time.kind == ValueKind::kStream) s.streams[name].axis = time.axis;
  }
  s.nodes.resize(s.graph->nodes.size());
  for (size_t i = 0; i < s.graph->nodes.size(); ++i) {
    const NodePlan& np = s.plan->nodes[i];
    NodeState& st = s.nodes[i];
    if (np.role == Role::kSkip) continue;
    st.kernel =
        !pooled.empty() ? std::move(pooled[i]) : create_kernel(*s.graph, np.kernel_node, options);
    if (np.role == Role::kConv) st.piecewise = dynamic_cast<PiecewiseConv*>(st.kernel.get());
    for (const std::string& name : s.graph->nodes[i].inputs) {
      auto it = s.streams.find(name);
      st.readers.push_back(it == s.streams.end() ? -1 : it->second.add_reader());
    }
  }
  for (const ValueInfo& out : s.graph->outputs) {
    s.output_readers[out.name] = s.streams.at(out.name).add_reader();
  }
}

GraphStreamer::~GraphStreamer() {
  if (!state_->pool) return;
  KernelPool::Kernels kernels;
  for (NodeState& node : state_->nodes) kernels.push_back(std::move(node.kernel));
  state_->pool->give_back(std::move(kernels));
}

std::map<std::string, Tensor> GraphStreamer::push(const std::map<std::string, Tensor>& inputs) {
  State& s = *state_;
  use_threads(s.threads);
  for (const ValueInfo& in : s.graph->inputs) {
    auto given = inputs.find(in.name);
    auto stream = s.streams.find(in.name);
    if (stream == s.streams.end()) {  // fixed per utterance
      if (s.first_push && given == inputs.end()) {
        fail(ErrorCode::kInvalidArgument, "the first push must give input '{}'", in.name);
      }
      if (s.first_push) s.heads[in.name] = given->second;
      continue;
    }
    if (given == inputs.end()) continue;
    if (stream->second.finished) {
      fail(ErrorCode::kInvalidArgument, "input '{}' was pushed after finish()", in.name);
    }
    const Tensor& chunk = given->second;
    const Shape& probe = s.plan->time.values.at(in.name).probe_shape[0];
    Shape expected = probe;
    if (chunk.rank() == static_cast<int64_t>(probe.size()))
      expected[stream->second.axis] = chunk.dim(stream->second.axis);
    if (chunk.dtype() != in.dtype || chunk.shape() != expected) {
      fail(ErrorCode::kInvalidArgument,
           "input '{}' chunk is {} {}, expected {} with any length on "
           "axis {}",
           in.name, dtype_name(chunk.dtype()), shape_str(chunk.shape()), shape_str(probe),
           stream->second.axis);
    }
    stream->second.append(chunk);
  }
  s.first_push = false;
  s.step_all();
  return s.collect();
}

std::map<std::string, Tensor> GraphStreamer::finish() {
  State& s = *state_;
  use_threads(s.threads);
  for (const ValueInfo& in : s.graph->inputs) {
    if (auto it = s.streams.find(in.name); it != s.streams.end()) it->second.finished = true;
  }
  s.step_all();
  for (size_t i = 0; i < s.nodes.size(); ++i) {
    if (s.plan->nodes[i].role != Role::kSkip && !s.nodes[i].finished) {
      fail(ErrorCode::kInternal, "streaming {}: did not finish", s.graph->nodes[i].display_name());
    }
  }
  return s.collect();
}

}  // namespace amphora::stream
