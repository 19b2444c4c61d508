// CumSum along one axis (given as a scalar input), optionally exclusive and/or reversed.
// Each lane is summed strictly in order in the element type -- float32 stays float32 -- because
// that is what ONNX Runtime does and NSF-HiFiGAN's phase accumulators (cumsum of f0/sr over
// tens of thousands of samples) drift differently under any other summation order.
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"
#include "ops/reduce/reduce.hpp"

namespace amphora {
namespace {

// Signed integer sums wrap instead of overflowing into UB.
template <typename T>
T add(T a, T b) {
  if constexpr (kIsInt<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
  } else {
    return a + b;
  }
}

template <typename T>
void cumsum(const AxisSplit& split, bool exclusive, bool reverse, const T* in, T* out) {
  const int64_t lanes = split.outer * split.inner;
  const int64_t stride = split.inner;
#pragma omp parallel for schedule(static) if (lanes * split.extent > kParallelElements)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t start = (lane / split.inner) * split.extent * split.inner + lane % split.inner;
    T running{0};
    for (int64_t step = 0; step < split.extent; ++step) {
      const int64_t i = reverse ? split.extent - 1 - step : step;
      const int64_t at = start + i * stride;
      if (exclusive) {
        out[at] = running;
        running = add(running, in[at]);
      } else {
        running = add(running, in[at]);
        out[at] = running;
      }
    }
  }
}

std::unique_ptr<Kernel> make_cumsum(const Node& node, int64_t, const KernelOptions&) {
  const bool exclusive = node.get_int("exclusive", 0) != 0;
  const bool reverse = node.get_int("reverse", 0) != 0;
  return std::make_unique<FunctionKernel>([=](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 2, 2);
    const Tensor& x = *in[0];
    const Tensor& axis_tensor = *in[1];
    if (axis_tensor.dtype() != DType::kInt64 && axis_tensor.dtype() != DType::kInt32) {
      fail_dtype(node, 1, axis_tensor.dtype(), "int32, int64");
    }
    if (axis_tensor.numel() != 1 || axis_tensor.rank() > 1) {
      fail(ErrorCode::kInvalidArgument, "{}: axis input must be a scalar, got shape {}",
           node.display_name(), shape_str(axis_tensor.shape()));
    }
    if (x.rank() == 0) {
      fail(ErrorCode::kInvalidArgument, "{}: input must have rank >= 1, got a scalar",
           node.display_name());
    }
    const int64_t axis = normalize_axis(node, axis_tensor.to_int64_vector()[0], x.rank());
    Tensor y(x.dtype(), x.shape());
    const AxisSplit split = split_at_axis(x.shape(), axis);
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsFloat<T> || std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>) {
        cumsum<T>(split, exclusive, reverse, x.data<T>(), y.data<T>());
      } else {
        fail_dtype(node, 0, x.dtype(), "float32, float64, int32, int64");
      }
    });
    return std::vector<Tensor>{y};
  });
}

}  // namespace

void register_cumsum_ops(OpRegistry& registry) { registry.add("", "CumSum", 11, make_cumsum); }

}  // namespace amphora
