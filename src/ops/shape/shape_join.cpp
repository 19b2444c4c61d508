// Ops that join, cut or repeat tensors: Concat, Split, Tile, Expand.
#include <cstring>

#include "ops/broadcast.hpp"
#include "ops/shape/shape_common.hpp"

namespace amphora {
namespace {

int64_t numel_of(const Shape& shape, size_t begin, size_t end) {
  return shape_numel(Shape(shape.begin() + static_cast<ptrdiff_t>(begin),
                           shape.begin() + static_cast<ptrdiff_t>(end)));
}

std::unique_ptr<Kernel> make_concat(const Node& node, int64_t opset, const KernelOptions&) {
  // Opset 1 defaulted the axis to 1; since opset 4 it is required.
  int64_t axis_attr = opset < 4 ? node.get_int("axis", 1) : node.get_int("axis");
  return make_function_kernel([node, axis_attr](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i])
        fail(ErrorCode::kInvalidArgument, "{}: input #{} is missing", node.display_name(), i);
    }
    const Tensor& first = *inputs[0];
    size_t axis = static_cast<size_t>(normalize_axis(node, axis_attr, first.rank()));
    Shape out_shape = first.shape();
    out_shape[axis] = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = *inputs[i];
      bool same = t.dtype() == first.dtype() && t.rank() == first.rank();
      for (size_t a = 0; same && a < out_shape.size(); ++a) {
        same = a == axis || t.shape()[a] == first.shape()[a];
      }
      if (!same) {
        fail(ErrorCode::kInvalidArgument,
             "{}: input #{} ({} {}) does not match input #0 ({} {}) outside axis {}",
             node.display_name(), i, dtype_name(t.dtype()), shape_str(t.shape()),
             dtype_name(first.dtype()), shape_str(first.shape()), axis_attr);
      }
      out_shape[axis] += t.shape()[axis];
    }
    Tensor out(first.dtype(), out_shape);
    int64_t outer = numel_of(out_shape, 0, axis);
    size_t inner_bytes = static_cast<size_t>(numel_of(out_shape, axis + 1, out_shape.size())) *
                         dtype_size(first.dtype());
    auto* dst = static_cast<std::byte*>(out.raw());
    for (int64_t o = 0; o < outer; ++o) {
      for (const Tensor* t : inputs) {
        size_t chunk = static_cast<size_t>(t->shape()[axis]) * inner_bytes;
        std::memcpy(dst, static_cast<const std::byte*>(t->raw()) + static_cast<size_t>(o) * chunk,
                    chunk);
        dst += chunk;
      }
    }
    return std::vector<Tensor>{out};
  });
}

// Chunk sizes when Split is given no explicit sizes: equal parts; since opset 18 an uneven
// split is allowed and the last chunk is the smaller one.
std::vector<int64_t> default_split(const Node& node, int64_t dim, int64_t parts, int64_t opset) {
  if (parts <= 0)
    fail(ErrorCode::kInvalidModel, "{}: cannot split into {} parts", node.display_name(), parts);
  if (dim % parts == 0) return std::vector<int64_t>(static_cast<size_t>(parts), dim / parts);
  int64_t chunk = dim / parts + 1;
  int64_t last = dim - chunk * (parts - 1);
  if (opset < 18 || last < 0) {
    fail(ErrorCode::kInvalidArgument, "{}: axis of size {} cannot be split into {} parts",
         node.display_name(), dim, parts);
  }
  std::vector<int64_t> split(static_cast<size_t>(parts), chunk);
  split.back() = last;
  return split;
}

std::unique_ptr<Kernel> make_split(const Node& node, int64_t opset, const KernelOptions&) {
  int64_t axis_attr = node.get_int("axis", 0);
  std::vector<int64_t> split_attr = opset < 13 ? node.get_ints("split") : std::vector<int64_t>{};
  int64_t parts = node.get_int("num_outputs", static_cast<int64_t>(node.outputs.size()));
  if (parts != static_cast<int64_t>(node.outputs.size())) {
    fail(ErrorCode::kInvalidModel, "{}: num_outputs is {} but the node has {} outputs",
         node.display_name(), parts, node.outputs.size());
  }
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, opset >= 13 ? 2 : 1);
    const Tensor& data = *inputs[0];
    size_t axis = static_cast<size_t>(normalize_axis(node, axis_attr, data.rank()));
    int64_t dim = data.shape()[axis];
    std::vector<int64_t> split = split_attr;
    if (const Tensor* t = optional_input(inputs, 1)) split = read_int_input(node, *t, "split");
    if (split.empty()) split = default_split(node, dim, parts, opset);
    int64_t total = 0;
    for (int64_t s : split) total += s < 0 ? dim + 1 : s;  // a negative size can never add up
    if (static_cast<int64_t>(split.size()) != parts || total != dim) {
      fail(ErrorCode::kInvalidArgument,
           "{}: split sizes {} do not cut axis {} of shape {} into {} parts", node.display_name(),
           shape_str(split), axis_attr, shape_str(data.shape()), parts);
    }
    int64_t outer = numel_of(data.shape(), 0, axis);
    size_t inner_bytes =
        static_cast<size_t>(numel_of(data.shape(), axis + 1, data.shape().size())) *
        dtype_size(data.dtype());
    const auto* src = static_cast<const std::byte*>(data.raw());
    std::vector<Tensor> outputs;
    size_t row_bytes = static_cast<size_t>(dim) * inner_bytes;
    size_t begin = 0;
    for (int64_t size : split) {
      Shape shape = data.shape();
      shape[axis] = size;
      Tensor out(data.dtype(), shape);
      size_t chunk = static_cast<size_t>(size) * inner_bytes;
      auto* dst = static_cast<std::byte*>(out.raw());
      for (int64_t o = 0; o < outer; ++o) {
        std::memcpy(dst + static_cast<size_t>(o) * chunk,
                    src + static_cast<size_t>(o) * row_bytes + begin, chunk);
      }
      begin += chunk;
      outputs.push_back(out);
    }
    return outputs;
  });
}

std::unique_ptr<Kernel> make_tile(const Node& node, int64_t, const KernelOptions&) {
  return make_function_kernel([node](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 2, 2);
    const Tensor& data = *inputs[0];
    std::vector<int64_t> repeats = read_int_input(node, *inputs[1], "repeats");
    if (static_cast<int64_t>(repeats.size()) != data.rank()) {
      fail(ErrorCode::kInvalidArgument, "{}: {} repeats for input of shape {}", node.display_name(),
           repeats.size(), shape_str(data.shape()));
    }
    std::vector<int64_t> strides = contiguous_strides(data.shape());
    Shape out_shape(repeats.size());
    for (size_t a = 0; a < repeats.size(); ++a) {
      if (repeats[a] < 0) {
        fail(ErrorCode::kInvalidArgument, "{}: negative repeat {} on axis {}", node.display_name(),
             repeats[a], a);
      }
      if (repeats[a] > 0 && data.shape()[a] > kMaxTensorElements / repeats[a]) {
        fail(ErrorCode::kOutOfRange, "{}: repeating {} by {} is absurdly large",
             node.display_name(), shape_str(data.shape()), shape_str(repeats));
      }
      out_shape[a] = data.shape()[a] * repeats[a];
    }
    shape_numel(out_shape);  // refuses absurd sizes before building the offset tables
    AxisOffsets offsets(out_shape.size());
    for (size_t a = 0; a < out_shape.size(); ++a) {
      for (int64_t i = 0; i < out_shape[a]; ++i) {
        offsets[a].push_back((i % data.shape()[a]) * strides[a]);
      }
    }
    return std::vector<Tensor>{gather_by_axis(data, out_shape, offsets)};
  });
}

std::unique_ptr<Kernel> make_expand(const Node& node, int64_t, const KernelOptions&) {
  return make_function_kernel([node](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 2, 2);
    const Tensor& data = *inputs[0];
    Shape requested = read_int_input(node, *inputs[1], "shape");
    for (int64_t d : requested) {
      if (d < 0) {
        fail(ErrorCode::kInvalidArgument, "{}: negative dim in shape {}", node.display_name(),
             shape_str(requested));
      }
    }
    // Bidirectional: the result may keep input dims where `shape` says 1.
    Shape out_shape = broadcast_shapes(node, {data.shape(), requested});
    shape_numel(out_shape);
    std::vector<int64_t> strides = broadcast_strides(data.shape(), out_shape);
    AxisOffsets offsets(out_shape.size());
    for (size_t a = 0; a < out_shape.size(); ++a) {
      for (int64_t i = 0; i < out_shape[a]; ++i) offsets[a].push_back(i * strides[a]);
    }
    return std::vector<Tensor>{gather_by_axis(data, out_shape, offsets)};
  });
}

}  // namespace

void register_shape_join_ops(OpRegistry& registry) {
  registry.add("", "Concat", 1, make_concat);
  registry.add("", "Split", 1, make_split);
  registry.add("", "Tile", 6, make_tile);
  registry.add("", "Expand", 8, make_expand);
}

}  // namespace amphora
