#include "ops/conv/conv_dw_norm.hpp"

#include <cmath>
#include <vector>

#include "ops/amphora_domain.hpp"
#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {
namespace {

struct DwConvNormAttrs {
  int64_t kernel = 1, pad_begin = 0, pad_end = 0, dilation = 1;
  float epsilon = 1e-5f;
};

DwConvNormAttrs parse_attrs(const Node& node) {
  DwConvNormAttrs a;
  const std::vector<int64_t> kernel = node.get_ints("kernel_shape");
  const std::vector<int64_t> pads = node.get_ints("pads");
  const std::vector<int64_t> dilations = node.get_ints("dilations");
  const std::vector<int64_t> strides = node.get_ints("strides");
  if (kernel.size() != 1 || kernel[0] < 1 || (!pads.empty() && pads.size() != 2) ||
      (!dilations.empty() && (dilations.size() != 1 || dilations[0] < 1)) ||
      (!strides.empty() && (strides.size() != 1 || strides[0] != 1))) {
    fail(ErrorCode::kInvalidModel,
         "{}: DwConvLayerNorm needs kernel_shape [K], pads [begin, end], dilations [d] and "
         "stride 1",
         node.display_name());
  }
  a.kernel = kernel[0];
  if (!pads.empty()) {
    a.pad_begin = pads[0];
    a.pad_end = pads[1];
  }
  if (!dilations.empty()) a.dilation = dilations[0];
  a.epsilon = node.get_float("epsilon", 1e-5f);
  return a;
}

struct Problem {
  int64_t batch, in_steps, out_steps, channels;
  const float* x;
  const float* bias;     // conv bias, may be null
  const float* scale;    // LayerNorm scale
  const float* shift;    // LayerNorm bias, may be null
  float* y;
};

// The reference: the conv in float (bias first, then the taps in order), the statistics in
// double with two passes.
void reference_row(const Problem& p, const DwConvNormAttrs& a, const float* w, int64_t n,
                   int64_t t, std::vector<float>& conv) {
  for (int64_t c = 0; c < p.channels; ++c) {
    float acc = p.bias ? p.bias[c] : 0.0f;
    for (int64_t k = 0; k < a.kernel; ++k) {
      const int64_t s = t - a.pad_begin + k * a.dilation;
      if (s < 0 || s >= p.in_steps) continue;
      acc += w[c * a.kernel + k] * p.x[(n * p.in_steps + s) * p.channels + c];
    }
    conv[c] = acc;
  }
  double sum = 0;
  for (int64_t c = 0; c < p.channels; ++c) sum += conv[c];
  const double mean = sum / static_cast<double>(p.channels);
  double squares = 0;
  for (int64_t c = 0; c < p.channels; ++c) squares += (conv[c] - mean) * (conv[c] - mean);
  const double inv_std =
      1.0 / std::sqrt(squares / static_cast<double>(p.channels) + static_cast<double>(a.epsilon));
  float* out = p.y + (n * p.out_steps + t) * p.channels;
  for (int64_t c = 0; c < p.channels; ++c) {
    double v = (conv[c] - mean) * inv_std * p.scale[c];
    if (p.shift) v += p.shift[c];
    out[c] = static_cast<float>(v);
  }
}

// The fast path: taps are [K, C] (`taps[k * C + c]`), so each tap is one vector pass over the
// channels of an input row; the conv row is built in the output row and normalised in place.
// Every row is computed the same way whatever the length and the threads, so a streamed run
// (which sees the same rows in windows) gives the same values.
void fast_row(const Problem& p, const DwConvNormAttrs& a, const float* taps, int64_t n,
              int64_t t) {
  const int64_t channels = p.channels;
  float* out = p.y + (n * p.out_steps + t) * channels;
  if (p.bias) {
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) out[c] = p.bias[c];
  } else {
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) out[c] = 0.0f;
  }
  for (int64_t k = 0; k < a.kernel; ++k) {
    const int64_t s = t - a.pad_begin + k * a.dilation;
    if (s < 0 || s >= p.in_steps) continue;
    const float* row = p.x + (n * p.in_steps + s) * channels;
    const float* w = taps + k * channels;
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) out[c] += w[c] * row[c];
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < channels; ++c) sum += out[c];
  const float mean = sum / static_cast<float>(channels);
  float squares = 0.0f;
#pragma omp simd reduction(+ : squares)
  for (int64_t c = 0; c < channels; ++c) squares += (out[c] - mean) * (out[c] - mean);
  const float inv_std = 1.0f / std::sqrt(squares / static_cast<float>(channels) + a.epsilon);
  if (p.shift) {
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) {
      out[c] = (out[c] - mean) * inv_std * p.scale[c] + p.shift[c];
    }
  } else {
#pragma omp simd
    for (int64_t c = 0; c < channels; ++c) out[c] = (out[c] - mean) * inv_std * p.scale[c];
  }
}

const float* optional_values(const Node& node, const std::vector<const Tensor*>& in, size_t i,
                             int64_t channels, const char* what) {
  if (in.size() <= i || !in[i]) return nullptr;
  if (in[i]->dtype() != DType::kFloat32 || in[i]->numel() != channels) {
    fail(ErrorCode::kInvalidArgument, "{}: {} must be {} float32 values, got {} {}",
         node.display_name(), what, channels, dtype_name(in[i]->dtype()),
         shape_str(in[i]->shape()));
  }
  return in[i]->data<float>();
}

}  // namespace

void register_dw_conv_norm_op(OpRegistry& registry) {
  registry.add(kAmphoraDomain, "DwConvLayerNorm", 1,
               [](const Node& node, int64_t, const KernelOptions& options) {
                 const DwConvNormAttrs a = parse_attrs(node);
                 const bool reference = options.reference;
                 return std::make_unique<FunctionKernel>(
                     [node, a, reference](const std::vector<const Tensor*>& in) {
                       check_input_count(node, in, 2, 5);
                       const Tensor& x = *in[0];
                       const Tensor& w = *in[1];
                       if (x.dtype() != DType::kFloat32 || x.rank() != 3 ||
                           w.dtype() != DType::kFloat32 || w.rank() != 3 ||
                           w.dim(0) != x.dim(2) || w.dim(1) != 1 || w.dim(2) != a.kernel) {
                         fail(ErrorCode::kInvalidArgument,
                              "{}: expects float32 X [N, T, C] and W [C, 1, {}]; got X {} {}, W {}",
                              node.display_name(), a.kernel, dtype_name(x.dtype()),
                              shape_str(x.shape()), shape_str(w.shape()));
                       }
                       Problem p;
                       p.batch = x.dim(0);
                       p.in_steps = x.dim(1);
                       p.channels = x.dim(2);
                       p.out_steps = p.in_steps + a.pad_begin + a.pad_end -
                                     a.dilation * (a.kernel - 1);
                       if (p.out_steps < 0) {
                         fail(ErrorCode::kInvalidArgument,
                              "{}: input {} is shorter than the conv's window",
                              node.display_name(), shape_str(x.shape()));
                       }
                       p.x = x.data<float>();
                       p.bias = optional_values(node, in, 2, p.channels, "the conv bias");
                       p.scale = optional_values(node, in, 3, p.channels, "Scale");
                       p.shift = optional_values(node, in, 4, p.channels, "the LayerNorm bias");
                       if (!p.scale) {
                         fail(ErrorCode::kInvalidArgument, "{}: Scale is required",
                              node.display_name());
                       }
                       Tensor y = Tensor::uninitialized(DType::kFloat32,
                                                        {p.batch, p.out_steps, p.channels});
                       p.y = y.data<float>();
                       const int64_t rows = p.batch * p.out_steps;
                       const float* weights = w.data<float>();
                       if (reference) {
                         std::vector<float> conv(static_cast<size_t>(p.channels));
                         for (int64_t r = 0; r < rows; ++r) {
                           reference_row(p, a, weights, r / p.out_steps, r % p.out_steps, conv);
                         }
                         return std::vector<Tensor>{y};
                       }
                       std::vector<float> taps(static_cast<size_t>(a.kernel * p.channels));
                       for (int64_t c = 0; c < p.channels; ++c) {
                         for (int64_t k = 0; k < a.kernel; ++k) {
                           taps[k * p.channels + c] = weights[c * a.kernel + k];
                         }
                       }
#pragma omp parallel for schedule(static) if (rows * p.channels * a.kernel > kParallelElements)
                       for (int64_t r = 0; r < rows; ++r) {
                         fast_row(p, a, taps.data(), r / p.out_steps, r % p.out_steps);
                       }
                       return std::vector<Tensor>{y};
                     });
               });
}

}  // namespace amphora
