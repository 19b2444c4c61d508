// Softmax and LogSoftmax. Before opset 13 the input is coerced to 2-D at `axis` (default 1) and
// normalised over everything from `axis` on; since 13 it is normalised over the single `axis`
// (default -1). The row maximum is subtracted before exp so large logits do not overflow.
#include <cmath>
#include <memory>

#include "ops/avx2_lanes.hpp"
#include "ops/elementwise/elementwise_common.hpp"
#include "ops/reduce/reduce.hpp"

namespace amphora {
namespace {

template <bool kLog, typename T>
void softmax(const AxisSplit& split, const T* in, T* out) {
  const int64_t lanes = split.outer * split.inner;
  const int64_t stride = split.inner;
#pragma omp parallel for schedule(static) if (lanes * split.extent > kParallelElements)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t start = (lane / split.inner) * split.extent * split.inner + lane % split.inner;
    T peak = in[start];
    for (int64_t i = 1; i < split.extent; ++i) {
      const T v = in[start + i * stride];
      if (v > peak || v != v) peak = v;
    }
    double sum = 0;
    int64_t i = 0;
    if constexpr (std::is_same_v<T, float>) {
      // Contiguous float rows (attention over the last axis): eight exponentials at a time.
      if (stride == 1) {
        const __m256 vpeak = _mm256_set1_ps(peak);
        __m256 lanes_sum = _mm256_setzero_ps();
        for (; i + 8 <= split.extent; i += 8) {
          const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(in + start + i), vpeak));
          _mm256_storeu_ps(out + start + i, e);
          lanes_sum = _mm256_add_ps(lanes_sum, e);
        }
        alignas(32) float partial[8];
        _mm256_store_ps(partial, lanes_sum);
        for (float p : partial) sum += p;
      }
    }
    for (; i < split.extent; ++i) {
      const T e = std::exp(in[start + i * stride] - peak);
      out[start + i * stride] = e;
      sum += e;
    }
    if constexpr (kLog) {
      const double log_sum = std::log(sum);
      for (int64_t i = 0; i < split.extent; ++i) {
        out[start + i * stride] = static_cast<T>(in[start + i * stride] - peak - log_sum);
      }
    } else {
      const T inverse = static_cast<T>(1.0 / sum);  // one division per row; vectorises
      for (int64_t i = 0; i < split.extent; ++i) out[start + i * stride] *= inverse;
    }
  }
}

template <bool kLog>
std::unique_ptr<Kernel> make_softmax(const Node& node, int64_t opset, const KernelOptions&) {
  const bool coerce_2d = opset < 13;
  const int64_t axis_attribute = node.get_int("axis", coerce_2d ? 1 : -1);
  return std::make_unique<FunctionKernel>([=](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 1, 1);
    const Tensor& x = *in[0];
    Tensor y = Tensor::uninitialized(x.dtype(), x.shape());  // every element is written
    if (x.numel() == 0) return std::vector<Tensor>{y};
    AxisSplit split;
    if (x.rank() == 0) {
      // A scalar is a one-element row: its softmax is 1 (ONNX Runtime accepts rank 0 too).
    } else if (coerce_2d) {
      // Coerced-2D also allows axis == rank (every axis in the batch part).
      const int64_t axis = axis_attribute < 0 ? axis_attribute + x.rank() : axis_attribute;
      if (axis < 0 || axis > x.rank()) {
        fail(ErrorCode::kInvalidModel, "{}: axis {} out of range for rank {}", node.display_name(),
             axis_attribute, x.rank());
      }
      for (int64_t i = 0; i < x.rank(); ++i) (i < axis ? split.outer : split.extent) *= x.dim(i);
    } else {
      split = split_at_axis(x.shape(), normalize_axis(node, axis_attribute, x.rank()));
    }
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsFloat<T>) {
        softmax<kLog, T>(split, x.data<T>(), y.data<T>());
      } else {
        fail_dtype(node, 0, x.dtype(), "float32, float64");
      }
    });
    return std::vector<Tensor>{y};
  });
}

}  // namespace

void register_softmax_ops(OpRegistry& registry) {
  registry.add("", "Softmax", 1, make_softmax<false>);
  registry.add("", "Softmax", 13, make_softmax<false>);
  registry.add("", "LogSoftmax", 1, make_softmax<true>);
  registry.add("", "LogSoftmax", 13, make_softmax<true>);
}

}  // namespace amphora
