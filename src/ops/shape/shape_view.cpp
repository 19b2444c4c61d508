// Ops that change only the shape, not the bytes: Reshape, Squeeze, Unsqueeze, Flatten, Identity,
// Dropout (inference) and Shape. Outputs share the input's buffer (Tensor::reshaped), which is
// what makes them free in a vocoder graph full of Unsqueeze/Reshape around convolutions; kernels
// never write into their inputs, so sharing is safe.
#include <algorithm>

#include "ops/shape/shape_common.hpp"

namespace amphora {

Shape reshape_target(const Node& node, const Shape& in, const std::vector<int64_t>& requested,
                     bool allow_zero) {
  Shape out(requested.size());
  int64_t inferred_axis = -1;
  int64_t known = 1;
  for (size_t i = 0; i < requested.size(); ++i) {
    int64_t d = requested[i];
    if (d == -1) {
      if (inferred_axis >= 0) {
        fail(ErrorCode::kInvalidArgument, "{}: target shape {} has more than one -1",
             node.display_name(), shape_str(requested));
      }
      inferred_axis = static_cast<int64_t>(i);
      continue;
    }
    if (d == 0 && !allow_zero) {
      if (i >= in.size()) {
        fail(ErrorCode::kInvalidArgument,
             "{}: target shape {} copies dim {} (0) but the input {} has rank {}",
             node.display_name(), shape_str(requested), i, shape_str(in), in.size());
      }
      d = in[i];
    }
    if (d < 0) {
      fail(ErrorCode::kInvalidArgument, "{}: invalid dim {} in target shape {}",
           node.display_name(), d, shape_str(requested));
    }
    out[i] = d;
    known *= d;
  }
  int64_t numel = shape_numel(in);
  if (inferred_axis >= 0) {
    if (known == 0 || numel % known != 0) {
      fail(ErrorCode::kInvalidArgument, "{}: cannot reshape {} to {}: -1 cannot be inferred",
           node.display_name(), shape_str(in), shape_str(requested));
    }
    out[static_cast<size_t>(inferred_axis)] = numel / known;
  }
  if (shape_numel(out) != numel) {
    fail(ErrorCode::kInvalidArgument, "{}: cannot reshape {} ({} elements) to {}",
         node.display_name(), shape_str(in), numel, shape_str(requested));
  }
  return out;
}

namespace {

std::unique_ptr<Kernel> make_reshape(const Node& node, int64_t opset, const KernelOptions&) {
  bool allow_zero = node.get_int("allowzero", 0) != 0;
  if (opset < 5) {
    std::vector<int64_t> target = node.get_ints("shape");
    return make_function_kernel([node, target](const std::vector<const Tensor*>& inputs) {
      check_input_count(node, inputs, 1, 1);
      const Tensor& data = *inputs[0];
      return std::vector<Tensor>{data.reshaped(reshape_target(node, data.shape(), target, false))};
    });
  }
  return make_function_kernel([node, allow_zero](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 2, 2);
    const Tensor& data = *inputs[0];
    std::vector<int64_t> target = read_int_input(node, *inputs[1], "shape");
    return std::vector<Tensor>{
        data.reshaped(reshape_target(node, data.shape(), target, allow_zero))};
  });
}

std::unique_ptr<Kernel> make_squeeze(const Node& node, int64_t opset, const KernelOptions&) {
  bool axes_from_input = opset >= 13;
  std::vector<int64_t> attr_axes = node.get_ints("axes");
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, axes_from_input ? 2 : 1);
    const Tensor& data = *inputs[0];
    std::vector<int64_t> axes = attr_axes;
    if (axes_from_input && optional_input(inputs, 1)) {
      axes = read_int_input(node, *inputs[1], "axes");
    }
    std::vector<bool> drop(data.shape().size(), false);
    if (axes.empty()) {  // no axes: every size-1 dim goes
      for (size_t a = 0; a < drop.size(); ++a) drop[a] = data.shape()[a] == 1;
    }
    for (int64_t a : normalize_axes(node, axes, data.rank())) {
      if (data.shape()[static_cast<size_t>(a)] != 1) {
        fail(ErrorCode::kInvalidArgument, "{}: cannot squeeze axis {} of shape {} (size is not 1)",
             node.display_name(), a, shape_str(data.shape()));
      }
      drop[static_cast<size_t>(a)] = true;
    }
    Shape out;
    for (size_t a = 0; a < drop.size(); ++a) {
      if (!drop[a]) out.push_back(data.shape()[a]);
    }
    return std::vector<Tensor>{data.reshaped(out)};
  });
}

std::unique_ptr<Kernel> make_unsqueeze(const Node& node, int64_t opset, const KernelOptions&) {
  bool axes_from_input = opset >= 13;
  std::vector<int64_t> attr_axes = axes_from_input ? std::vector<int64_t>{} : node.get_ints("axes");
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, axes_from_input ? 2 : 1, axes_from_input ? 2 : 1);
    const Tensor& data = *inputs[0];
    std::vector<int64_t> axes =
        axes_from_input ? read_int_input(node, *inputs[1], "axes") : attr_axes;
    // Axes refer to the output, whose rank counts the inserted dims.
    int64_t out_rank = data.rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
    for (int64_t a : normalize_axes(node, axes, out_rank)) inserted[static_cast<size_t>(a)] = true;
    Shape out;
    size_t next_in = 0;
    for (int64_t a = 0; a < out_rank; ++a) {
      out.push_back(inserted[static_cast<size_t>(a)] ? 1 : data.shape()[next_in++]);
    }
    return std::vector<Tensor>{data.reshaped(out)};
  });
}

std::unique_ptr<Kernel> make_flatten(const Node& node, int64_t, const KernelOptions&) {
  int64_t axis_attr = node.get_int("axis", 1);
  return make_function_kernel([node, axis_attr](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, 1);
    const Tensor& data = *inputs[0];
    // Flatten's axis may equal the rank (everything goes to the outer dim).
    int64_t axis = axis_attr < 0 ? axis_attr + data.rank() : axis_attr;
    if (axis < 0 || axis > data.rank()) {
      fail(ErrorCode::kInvalidModel, "{}: axis {} out of range for rank {}", node.display_name(),
           axis_attr, data.rank());
    }
    Shape outer(data.shape().begin(), data.shape().begin() + axis);
    Shape inner(data.shape().begin() + axis, data.shape().end());
    return std::vector<Tensor>{data.reshaped({shape_numel(outer), shape_numel(inner)})};
  });
}

std::unique_ptr<Kernel> make_identity(const Node& node, int64_t, const KernelOptions&) {
  return make_function_kernel([node](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, 1);
    return std::vector<Tensor>{*inputs[0]};
  });
}

// Inference-only Dropout: the output is the input; the optional mask keeps everything.
std::unique_ptr<Kernel> make_dropout(const Node& node, int64_t opset, const KernelOptions&) {
  bool wants_mask = node.outputs.size() > 1 && !node.outputs[1].empty();
  // The mask is bool since opset 10; before that it had the data's type.
  bool bool_mask = opset >= 10;
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, opset >= 12 ? 3 : 1);
    const Tensor& data = *inputs[0];
    if (const Tensor* training = optional_input(inputs, 2)) {
      if (training->numel() != 1) {
        fail(ErrorCode::kInvalidArgument, "{}: training_mode must be a scalar, got shape {}",
             node.display_name(), shape_str(training->shape()));
      }
      float ratio = 0.5f;
      if (const Tensor* r = optional_input(inputs, 1)) ratio = r->to_float_vector().at(0);
      if (training->to_float_vector()[0] != 0.0f && ratio != 0.0f) {
        fail(ErrorCode::kUnsupported, "{}: training-mode Dropout (ratio {}) is not supported",
             node.display_name(), ratio);
      }
    }
    std::vector<Tensor> outputs{data};
    if (wants_mask) {
      Tensor mask(bool_mask ? DType::kBool : data.dtype(), data.shape());
      visit_dtype(mask.dtype(), [&](auto zero) {
        using T = decltype(zero);
        std::fill_n(mask.data<T>(), mask.numel(), static_cast<T>(1));
      });
      outputs.push_back(mask);
    }
    return outputs;
  });
}

std::unique_ptr<Kernel> make_shape(const Node& node, int64_t, const KernelOptions&) {
  int64_t start_attr = node.get_int("start", 0);
  bool has_end = node.has("end");
  int64_t end_attr = node.get_int("end", 0);
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, 1);
    const Shape& shape = inputs[0]->shape();
    int64_t rank = inputs[0]->rank();
    // start/end (opset 15) slice the shape like Python, clamped to [0, rank].
    auto clamp = [rank](int64_t v) { return std::clamp(v < 0 ? v + rank : v, int64_t{0}, rank); };
    int64_t start = clamp(start_attr);
    int64_t end = has_end ? clamp(end_attr) : rank;
    std::vector<int64_t> dims;
    for (int64_t a = start; a < end; ++a) dims.push_back(shape[static_cast<size_t>(a)]);
    return std::vector<Tensor>{
        Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims)};
  });
}

}  // namespace

void register_shape_view_ops(OpRegistry& registry) {
  registry.add("", "Reshape", 1, make_reshape);
  registry.add("", "Squeeze", 1, make_squeeze);
  registry.add("", "Unsqueeze", 1, make_unsqueeze);
  registry.add("", "Flatten", 1, make_flatten);
  registry.add("", "Identity", 1, make_identity);
  registry.add("", "Dropout", 1, make_dropout);
  registry.add("", "Shape", 1, make_shape);
}

}  // namespace amphora
