// Ops that create tensors: Constant, ConstantOfShape, Range.
#include <cmath>
#include <cstring>

#include "ops/shape/shape_common.hpp"

namespace amphora {
namespace {

Tensor constant_value(const Node& node) {
  if (node.has("value")) return node.get_tensor("value");
  if (node.has("value_float")) return Tensor::scalar<float>(node.get_float("value_float", 0.0f));
  if (node.has("value_int")) return Tensor::scalar<int64_t>(node.get_int("value_int"));
  if (node.has("value_floats")) {
    std::vector<float> v = node.get_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (node.has("value_ints")) {
    std::vector<int64_t> v = node.get_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  for (const char* unsupported : {"sparse_value", "value_string", "value_strings"}) {
    if (node.has(unsupported)) {
      fail(ErrorCode::kUnsupported, "{}: attribute '{}' is not supported", node.display_name(),
           unsupported);
    }
  }
  fail(ErrorCode::kInvalidModel, "{}: Constant has no value attribute", node.display_name());
}

std::unique_ptr<Kernel> make_constant(const Node& node, int64_t, const KernelOptions&) {
  // The value is built once; every run hands out the same (never written) buffer.
  Tensor value = constant_value(node);
  return make_function_kernel([node, value](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 0, 0);
    return std::vector<Tensor>{value};
  });
}

std::unique_ptr<Kernel> make_constant_of_shape(const Node& node, int64_t, const KernelOptions&) {
  Tensor value = node.has("value") ? node.get_tensor("value") : Tensor::scalar<float>(0.0f);
  if (value.numel() != 1) {
    fail(ErrorCode::kInvalidModel, "{}: 'value' must hold one element, got shape {}",
         node.display_name(), shape_str(value.shape()));
  }
  return make_function_kernel([node, value](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, 1);
    Shape shape = read_int_input(node, *inputs[0], "input");
    for (int64_t d : shape) {
      if (d < 0) {
        fail(ErrorCode::kInvalidArgument, "{}: negative dim in shape {}", node.display_name(),
             shape_str(shape));
      }
    }
    Tensor out(value.dtype(), shape);
    size_t size = dtype_size(value.dtype());
    auto* dst = static_cast<std::byte*>(out.raw());
    for (int64_t i = 0; i < out.numel(); ++i) std::memcpy(dst + i * size, value.raw(), size);
    return std::vector<Tensor>{out};
  });
}

template <typename T>
Tensor range_of(const Node& node, T start, T limit, T delta) {
  if (delta == T{0}) fail(ErrorCode::kInvalidArgument, "{}: delta is 0", node.display_name());
  // Count as ONNX defines it: max(ceil((limit - start) / delta), 0), in double so integer
  // ranges with huge bounds cannot overflow; absurd counts are refused before allocating.
  double count = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                           static_cast<double>(delta));
  if (!(count <= static_cast<double>(kMaxTensorElements))) {
    fail(ErrorCode::kOutOfRange, "{}: Range({}, {}, {}) has too many elements", node.display_name(),
         static_cast<double>(start), static_cast<double>(limit), static_cast<double>(delta));
  }
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor out(dtype_of<T>(), {n});
  // Accumulated, not start + i * delta: ONNX Runtime adds delta step by step, and a float ramp
  // of many thousand frames differs visibly between the two.
  T* values = out.data<T>();
  T value = start;
  for (int64_t i = 0; i < n; ++i) {
    values[i] = value;
    if (i + 1 < n) value = static_cast<T>(value + delta);  // never steps past limit (overflow)
  }
  return out;
}

std::unique_ptr<Kernel> make_range(const Node& node, int64_t, const KernelOptions&) {
  return make_function_kernel([node](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 3, 3);
    const Tensor& start = *inputs[0];
    const char* names[] = {"start", "limit", "delta"};
    for (size_t i = 0; i < 3; ++i) {
      if (inputs[i]->numel() != 1 || inputs[i]->dtype() != start.dtype()) {
        fail(ErrorCode::kInvalidArgument,
             "{}: '{}' must be a one-element tensor of the type of 'start' ({}), got {} {}",
             node.display_name(), names[i], dtype_name(start.dtype()),
             dtype_name(inputs[i]->dtype()), shape_str(inputs[i]->shape()));
      }
    }
    Tensor out;
    visit_dtype(start.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (std::is_same_v<T, bool> || sizeof(T) == 1) {
        fail(ErrorCode::kUnsupported, "{}: Range over {} is not supported", node.display_name(),
             dtype_name(start.dtype()));
      } else {
        out =
            range_of<T>(node, start.data<T>()[0], inputs[1]->data<T>()[0], inputs[2]->data<T>()[0]);
      }
    });
    return std::vector<Tensor>{out};
  });
}

}  // namespace

void register_shape_constant_ops(OpRegistry& registry) {
  registry.add("", "Constant", 1, make_constant);
  registry.add("", "ConstantOfShape", 9, make_constant_of_shape);
  registry.add("", "Range", 11, make_range);
}

}  // namespace amphora
