// LayerNormalization (opset 17): normalises over the axes from `axis` on, then scales and
// shifts with Scale and optional B (broadcast over those axes). Optional outputs Mean and
// InvStdDev have shape X.shape[:axis] + [1] * (rank - axis), in the stash type (float32 unless
// stash_type says float64). Statistics use two passes (mean, then centred variance) in double,
// the numerically safe form that the ONNX function definition spells out. The fast path (float32
// with a full-width Scale and B, Vocos' case) keeps the two passes but accumulates in float in
// vectorised loops: 4x faster, within ~1e-6 relative of the reference.
#include <algorithm>
#include <cmath>
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"
#include "ops/reduce/reduce.hpp"

namespace amphora {
namespace {

// Offsets into Scale/B for each element of the normalised block.
std::vector<int64_t> affine_offsets(const Node& node, const Tensor& affine, size_t input,
                                    const Shape& normalized) {
  const Shape joint = broadcast_shapes(node, {affine.shape(), normalized});
  if (joint != normalized) {
    fail(ErrorCode::kInvalidArgument,
         "{}: input #{} '{}' of shape {} does not broadcast to the normalised shape {}",
         node.display_name(), input, node.inputs[input], shape_str(affine.shape()),
         shape_str(normalized));
  }
  return broadcast_offsets(broadcast_strides(affine.shape(), normalized), normalized);
}

template <typename T, typename Stash>
void layer_norm(int64_t rows, int64_t width, double epsilon, const T* x, const T* scale,
                const std::vector<int64_t>& scale_at, const T* bias,
                const std::vector<int64_t>& bias_at, T* y, Stash* mean_out, Stash* inv_std_out) {
#pragma omp parallel for schedule(static) if (rows * width > kParallelElements)
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = x + r * width;
    double sum = 0;
    for (int64_t i = 0; i < width; ++i) sum += row[i];
    const double mean = sum / static_cast<double>(width);
    double squares = 0;
    for (int64_t i = 0; i < width; ++i) {
      const double centred = row[i] - mean;
      squares += centred * centred;
    }
    const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(width) + epsilon);
    T* out = y + r * width;
    for (int64_t i = 0; i < width; ++i) {
      double v = (row[i] - mean) * inv_std * scale[scale_at[i]];
      if (bias) v += bias[bias_at[i]];
      out[i] = static_cast<T>(v);
    }
    if (mean_out) mean_out[r] = static_cast<Stash>(mean);
    if (inv_std_out) inv_std_out[r] = static_cast<Stash>(inv_std);
  }
}

// One row on the fast path; scale and bias (may be null) have `width` contiguous values.
void layer_norm_row_fast(const float* row, int64_t width, float epsilon, const float* scale,
                         const float* bias, float* out, float* mean_out, float* inv_std_out) {
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < width; ++i) sum += row[i];
  const float mean = sum / static_cast<float>(width);
  float squares = 0.0f;
#pragma omp simd reduction(+ : squares)
  for (int64_t i = 0; i < width; ++i) squares += (row[i] - mean) * (row[i] - mean);
  const float inv_std = 1.0f / std::sqrt(squares / static_cast<float>(width) + epsilon);
  if (bias) {
#pragma omp simd
    for (int64_t i = 0; i < width; ++i) out[i] = (row[i] - mean) * inv_std * scale[i] + bias[i];
  } else {
#pragma omp simd
    for (int64_t i = 0; i < width; ++i) out[i] = (row[i] - mean) * inv_std * scale[i];
  }
  if (mean_out) *mean_out = mean;
  if (inv_std_out) *inv_std_out = inv_std;
}

std::unique_ptr<Kernel> make_layer_norm(const Node& node, int64_t, const KernelOptions& options) {
  const bool reference = options.reference;
  const int64_t axis_attribute = node.get_int("axis", -1);
  const double epsilon = node.get_float("epsilon", 1e-5f);
  const int64_t stash_onnx = node.get_int("stash_type", 1);
  if (stash_onnx != 1 && stash_onnx != 11) {
    fail(ErrorCode::kUnsupported, "{}: stash_type {} is not supported (float32 or float64)",
         node.display_name(), stash_onnx);
  }
  const DType stash = dtype_from_onnx(static_cast<int>(stash_onnx));
  const size_t outputs = std::max<size_t>(1, node.outputs.size());
  return std::make_unique<FunctionKernel>([=](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 2, 3);
    check_same_dtype(node, in, 0, 2);
    const Tensor& x = *in[0];
    const Tensor& scale = *in[1];
    const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
    const int64_t axis = normalize_axis(node, axis_attribute, x.rank());
    const Shape normalized(x.shape().begin() + axis, x.shape().end());
    const int64_t width = shape_numel(normalized);
    const int64_t rows = width ? x.numel() / width : 0;
    const std::vector<int64_t> scale_at = affine_offsets(node, scale, 1, normalized);
    const std::vector<int64_t> bias_at =
        bias ? affine_offsets(node, *bias, 2, normalized) : std::vector<int64_t>{};
    Shape stats_shape(x.shape().begin(), x.shape().begin() + axis);
    stats_shape.resize(x.shape().size(), 1);
    std::vector<Tensor> out;
    out.push_back(Tensor::uninitialized(x.dtype(), x.shape()));  // written in full below
    for (size_t i = 1; i < outputs; ++i) out.emplace_back(stash, stats_shape);
    const bool full_width = scale.numel() == width && (!bias || bias->numel() == width);
    if (!reference && full_width && x.dtype() == DType::kFloat32 && stash == DType::kFloat32) {
      const float* xs = x.data<float>();
      const float* b = bias ? bias->data<float>() : nullptr;
      float* ys = out[0].data<float>();
      float* means = outputs > 1 ? out[1].data<float>() : nullptr;
      float* inv_stds = outputs > 2 ? out[2].data<float>() : nullptr;
#pragma omp parallel for schedule(static) if (rows * width > kParallelElements)
      for (int64_t r = 0; r < rows; ++r) {
        layer_norm_row_fast(xs + r * width, width, static_cast<float>(epsilon), scale.data<float>(),
                            b, ys + r * width, means ? means + r : nullptr,
                            inv_stds ? inv_stds + r : nullptr);
      }
      return out;
    }
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsFloat<T>) {
        visit_dtype(stash, [&](auto stash_zero) {
          using Stash = decltype(stash_zero);
          if constexpr (kIsFloat<Stash>) {
            layer_norm<T, Stash>(rows, width, epsilon, x.data<T>(), scale.data<T>(), scale_at,
                                 bias ? bias->data<T>() : nullptr, bias_at, out[0].data<T>(),
                                 outputs > 1 ? out[1].data<Stash>() : nullptr,
                                 outputs > 2 ? out[2].data<Stash>() : nullptr);
          }
        });
      } else {
        fail_dtype(node, 0, x.dtype(), "float32, float64");
      }
    });
    return out;
  });
}

}  // namespace

void register_normalization_ops(OpRegistry& registry) {
  registry.add("", "LayerNormalization", 17, make_layer_norm);
}

}  // namespace amphora
