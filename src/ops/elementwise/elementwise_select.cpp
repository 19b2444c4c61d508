// Ops that pick one of their inputs per element: Min and Max (variadic, broadcasting), Clip
// (bounds as attributes before opset 11, as optional inputs since) and Where. A NaN operand
// wins in Min/Max and a NaN input stays NaN through Clip, as numpy and ONNX Runtime do. The
// variadic Sum and Mean share Min/Max's fold and live here too.
#include <cmath>
#include <limits>
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {
namespace {

constexpr const char* kNumbers = "float32, float64, int8, uint8, int32, int64";

template <typename T>
bool is_nan(T x) {
  if constexpr (kIsFloat<T>) {
    return std::isnan(x);
  } else {
    (void)x;
    return false;
  }
}

// `x` materialised at the broadcast shape `shape` (which it must be broadcastable to).
template <typename T>
Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Tensor out(x.dtype(), shape);
  const T* in = x.data<T>();
  T* po = out.data<T>();
  std::array<std::vector<int64_t>, 1> strides = {broadcast_strides(x.shape(), shape)};
  const int64_t step = strides[0].empty() ? 0 : strides[0].back();
  for_each_broadcast_row<1>(shape, strides,
                            [&](int64_t o, const std::array<int64_t, 1>& offsets, int64_t length) {
                              for (int64_t k = 0; k < length; ++k)
                                po[o + k] = in[offsets[0] + k * step];
                            });
  return out;
}

// Min, Max, Sum, Mean: checks the inputs (at least one, all of one dtype) and returns the
// shape they broadcast to.
Shape variadic_broadcast_shape(const Node& node, const std::vector<const Tensor*>& in) {
  if (in.empty())
    fail(ErrorCode::kInvalidModel, "{}: needs at least one input", node.display_name());
  check_input_count(node, in, in.size(), in.size());
  check_same_dtype(node, in, 0, in.size() - 1);
  std::vector<Shape> shapes;
  for (const Tensor* t : in) shapes.push_back(t->shape());
  return broadcast_shapes(node, shapes);
}

template <bool kMax>
std::unique_ptr<Kernel> make_min_max(const Node& node, int64_t, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([node](const std::vector<const Tensor*>& in) {
    const Shape shape = variadic_broadcast_shape(node, in);
    Tensor out;
    visit_dtype(in[0]->dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsNumber<T>) {
        out = broadcast_to<T>(*in[0], shape);
        for (size_t j = 1; j < in.size(); ++j) {
          // Folding into `out` in place is safe: it has the output shape, so element k is read
          // only by the write to element k.
          broadcast_binary<T, T, T>(out, *in[j], out, [](T a, T b) {
            if (is_nan(a)) return a;
            if (is_nan(b)) return b;
            return (kMax ? a < b : b < a) ? b : a;
          });
        }
      } else {
        fail_dtype(node, 0, in[0]->dtype(), kNumbers);
      }
    });
    return std::vector<Tensor>{out};
  });
}

// Sum and Mean: the variadic broadcasting sums (Mean divides by the input count at the end).
template <bool kMean>
std::unique_ptr<Kernel> make_sum(const Node& node, int64_t, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([node](const std::vector<const Tensor*>& in) {
    const Shape shape = variadic_broadcast_shape(node, in);
    Tensor out;
    visit_dtype(in[0]->dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsFloat<T>) {
        out = broadcast_to<T>(*in[0], shape);
        for (size_t j = 1; j < in.size(); ++j) {
          broadcast_binary<T, T, T>(out, *in[j], out, [](T a, T b) { return a + b; });
        }
        if constexpr (kMean) {
          const T count = static_cast<T>(in.size());
          T* p = out.data<T>();
          map_elements(p, p, out.numel(), [count](T v) { return v / count; });
        }
      } else {
        fail_dtype(node, 0, in[0]->dtype(), "float32, float64");
      }
    });
    return std::vector<Tensor>{out};
  });
}

template <typename T>
Tensor clip(const Tensor& x, T low, T high) {
  Tensor y(x.dtype(), x.shape());
  // max-then-min, so that low > high yields high everywhere (the ONNX-specified result).
  map_elements(x.data<T>(), y.data<T>(), x.numel(), [low, high](T v) {
    T lifted = v < low ? low : v;
    return lifted > high ? high : lifted;
  });
  return y;
}

// Clip-11+: min and max are optional scalar inputs of the input's type.
template <typename T>
T clip_bound(const Node& node, const Tensor* bound, size_t index, T fallback) {
  if (!bound) return fallback;
  if (bound->dtype() != dtype_of<T>()) {
    fail(ErrorCode::kInvalidArgument, "{}: bound input #{} has dtype {}, expected {} like input #0",
         node.display_name(), index, dtype_name(bound->dtype()), dtype_name(dtype_of<T>()));
  }
  if (bound->numel() != 1) {
    fail(ErrorCode::kInvalidArgument, "{}: bound input #{} must be a scalar, got shape {}",
         node.display_name(), index, shape_str(bound->shape()));
  }
  return bound->data<T>()[0];
}

std::unique_ptr<Kernel> make_clip_inputs(const Node& node, int64_t, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([node](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 1, 3);
    const Tensor& x = *in[0];
    Tensor y;
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsNumber<T>) {
        T low = clip_bound<T>(node, in.size() > 1 ? in[1] : nullptr, 1,
                              std::numeric_limits<T>::lowest());
        T high =
            clip_bound<T>(node, in.size() > 2 ? in[2] : nullptr, 2, std::numeric_limits<T>::max());
        y = clip<T>(x, low, high);
      } else {
        fail_dtype(node, 0, x.dtype(), kNumbers);
      }
    });
    return std::vector<Tensor>{y};
  });
}

std::unique_ptr<Kernel> make_clip_attributes(const Node& node, int64_t, const KernelOptions&) {
  const float low = node.get_float("min", std::numeric_limits<float>::lowest());
  const float high = node.get_float("max", std::numeric_limits<float>::max());
  return std::make_unique<FunctionKernel>([node, low, high](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 1, 1);
    const Tensor& x = *in[0];
    Tensor y;
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsFloat<T>) {
        y = clip<T>(x, static_cast<T>(low), static_cast<T>(high));
      } else {
        fail_dtype(node, 0, x.dtype(), "float32, float64");
      }
    });
    return std::vector<Tensor>{y};
  });
}

std::unique_ptr<Kernel> make_where(const Node& node, int64_t, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([node](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 3, 3);
    const Tensor& condition = *in[0];
    if (condition.dtype() != DType::kBool) fail_dtype(node, 0, condition.dtype(), "bool");
    check_same_dtype(node, in, 1, 2);
    const Shape shape = broadcast_shapes(node, {condition.shape(), in[1]->shape(), in[2]->shape()});
    Tensor out(in[1]->dtype(), shape);
    std::array<std::vector<int64_t>, 3> strides;
    for (size_t j = 0; j < 3; ++j) strides[j] = broadcast_strides(in[j]->shape(), shape);
    std::array<int64_t, 3> steps{};
    for (size_t j = 0; j < 3; ++j) steps[j] = strides[j].empty() ? 0 : strides[j].back();
    visit_dtype(out.dtype(), [&](auto zero) {
      using T = decltype(zero);
      const bool* pc = condition.data<bool>();
      const T* px = in[1]->data<T>();
      const T* py = in[2]->data<T>();
      T* po = out.data<T>();
      for_each_broadcast_row<3>(
          shape, strides, [&](int64_t o, const std::array<int64_t, 3>& at, int64_t length) {
            for (int64_t k = 0; k < length; ++k) {
              po[o + k] =
                  pc[at[0] + k * steps[0]] ? px[at[1] + k * steps[1]] : py[at[2] + k * steps[2]];
            }
          });
    });
    return std::vector<Tensor>{out};
  });
}

}  // namespace

void register_selection_ops(OpRegistry& registry) {
  registry.add("", "Max", 6, make_min_max<true>);
  registry.add("", "Min", 6, make_min_max<false>);
  registry.add("", "Clip", 6, make_clip_attributes);
  registry.add("", "Clip", 11, make_clip_inputs);
  registry.add("", "Where", 9, make_where);
  registry.add("", "Sum", 6, make_sum<false>);
  registry.add("", "Mean", 6, make_sum<true>);
}

}  // namespace amphora
