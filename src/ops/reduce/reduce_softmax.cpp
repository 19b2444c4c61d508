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

// One contiguous float row (attention over the last axis), eight lanes at a time throughout:
// the maximum (NaN wins, as in the scalar loop), the exponentials and their sum (the last
// partial vector through a lane mask), the scaling.
void softmax_row8(const float* in, float* out, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-INFINITY), unordered = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(in + i);
    vmax = _mm256_max_ps(vmax, x);
    unordered = _mm256_or_ps(unordered, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  float peak = lanes[0];
  for (float v : lanes) peak = v > peak ? v : peak;
  bool nan = _mm256_movemask_ps(unordered) != 0;
  for (; i < n; ++i) {
    nan = nan || in[i] != in[i];
    peak = in[i] > peak ? in[i] : peak;
  }
  if (nan) peak = NAN;
  const __m256 vpeak = _mm256_set1_ps(peak);
  __m256 sum8 = _mm256_setzero_ps();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(in + i), vpeak));
    _mm256_storeu_ps(out + i, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  const int64_t rest = n - i;
  if (rest > 0) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(rest)),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 x = _mm256_maskload_ps(in + i, mask);
    const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(x, vpeak)), _mm256_castsi256_ps(mask));
    _mm256_maskstore_ps(out + i, mask, e);
    sum8 = _mm256_add_ps(sum8, e);
  }
  _mm256_store_ps(lanes, sum8);
  double sum = 0;
  for (float v : lanes) sum += v;
  const __m256 inverse = _mm256_set1_ps(static_cast<float>(1.0 / sum));
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(out + i), inverse));
  for (; i < n; ++i) out[i] *= static_cast<float>(1.0 / sum);
}

template <bool kLog, typename T>
void softmax(const AxisSplit& split, const T* in, T* out) {
  const int64_t lanes = split.outer * split.inner;
  const int64_t stride = split.inner;
#pragma omp parallel for schedule(static) if (lanes * split.extent > kParallelElements)
  for (int64_t lane = 0; lane < lanes; ++lane) {
    const int64_t start = (lane / split.inner) * split.extent * split.inner + lane % split.inner;
    if constexpr (!kLog && std::is_same_v<T, float>) {
      if (stride == 1) {
        softmax_row8(in + start, out + start, split.extent);
        continue;
      }
    }
    T peak = in[start];
    for (int64_t i = 1; i < split.extent; ++i) {
      const T v = in[start + i * stride];
      if (v > peak || v != v) peak = v;
    }
    double sum = 0;
    int64_t i = 0;
    if constexpr (std::is_same_v<T, float>) {
      // Contiguous LogSoftmax rows: eight exponentials at a time.
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
