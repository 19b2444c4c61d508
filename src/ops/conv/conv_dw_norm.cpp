#include "ops/conv/conv_dw_norm.hpp"

#include <immintrin.h>

#include <cmath>
#include <vector>

#include "ops/amphora_domain.hpp"
#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {
namespace {

constexpr int64_t kMaxTaps = 64;  // a fast row keeps a pointer per tap on the stack

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
  if (kernel.size() != 1 || kernel[0] < 1 || kernel[0] > kMaxTaps || (!pads.empty() && pads.size() != 2) ||
      (!dilations.empty() && (dilations.size() != 1 || dilations[0] < 1)) ||
      (!strides.empty() && (strides.size() != 1 || strides[0] != 1))) {
    fail(ErrorCode::kInvalidModel,
         "{}: DwConvLayerNorm needs kernel_shape [K] (K <= {}), pads [begin, end], dilations "
         "[d] and stride 1",
         node.display_name(), kMaxTaps);
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

float horizontal_sum(__m256 v) {
  const __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 h = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

// The fast path: taps are [K, C] (`taps[k * C + c]`). A row's conv is built 32 channels at a
// time in registers over all its taps (bias first, then the taps in order), stored once, and
// summed on the way; then the variance and the normalisation in vectors. Every row is computed
// the same way whatever the length and the threads, so a streamed run (which sees the same rows
// in windows) gives the same values.
void fast_row(const Problem& p, const DwConvNormAttrs& a, const float* taps, int64_t n,
              int64_t t) {
  const int64_t channels = p.channels;
  float* out = p.y + (n * p.out_steps + t) * channels;
  const float* rows[kMaxTaps];
  const float* weights[kMaxTaps];
  int valid = 0;
  for (int64_t k = 0; k < a.kernel; ++k) {
    const int64_t s = t - a.pad_begin + k * a.dilation;
    if (s < 0 || s >= p.in_steps) continue;
    rows[valid] = p.x + (n * p.in_steps + s) * channels;
    weights[valid++] = taps + k * channels;
  }
  __m256 vsum = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 32 <= channels; c += 32) {
    __m256 acc[4];
    for (int j = 0; j < 4; ++j) {
      acc[j] = p.bias ? _mm256_loadu_ps(p.bias + c + 8 * j) : _mm256_setzero_ps();
    }
    for (int v = 0; v < valid; ++v) {
      for (int j = 0; j < 4; ++j) {
        acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(weights[v] + c + 8 * j),
                                 _mm256_loadu_ps(rows[v] + c + 8 * j), acc[j]);
      }
    }
    for (int j = 0; j < 4; ++j) {
      _mm256_storeu_ps(out + c + 8 * j, acc[j]);
      vsum = _mm256_add_ps(vsum, acc[j]);
    }
  }
  for (; c + 8 <= channels; c += 8) {
    __m256 acc = p.bias ? _mm256_loadu_ps(p.bias + c) : _mm256_setzero_ps();
    for (int v = 0; v < valid; ++v) {
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(weights[v] + c), _mm256_loadu_ps(rows[v] + c), acc);
    }
    _mm256_storeu_ps(out + c, acc);
    vsum = _mm256_add_ps(vsum, acc);
  }
  float sum = horizontal_sum(vsum);
  for (; c < channels; ++c) {
    float acc = p.bias ? p.bias[c] : 0.0f;
    for (int v = 0; v < valid; ++v) acc = std::fma(weights[v][c], rows[v][c], acc);
    out[c] = acc;
    sum += acc;
  }
  const float mean = sum / static_cast<float>(channels);
  const __m256 vmean = _mm256_set1_ps(mean);
  __m256 vsq = _mm256_setzero_ps();
  c = 0;
  for (; c + 8 <= channels; c += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(out + c), vmean);
    vsq = _mm256_fmadd_ps(d, d, vsq);
  }
  float squares = horizontal_sum(vsq);
  for (; c < channels; ++c) squares += (out[c] - mean) * (out[c] - mean);
  const float inv_std = 1.0f / std::sqrt(squares / static_cast<float>(channels) + a.epsilon);
  const __m256 vinv = _mm256_set1_ps(inv_std);
  c = 0;
  for (; c + 8 <= channels; c += 8) {
    __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(out + c), vmean), vinv),
                             _mm256_loadu_ps(p.scale + c));
    if (p.shift) v = _mm256_add_ps(v, _mm256_loadu_ps(p.shift + c));
    _mm256_storeu_ps(out + c, v);
  }
  for (; c < channels; ++c) {
    const float v = (out[c] - mean) * inv_std * p.scale[c];
    out[c] = p.shift ? v + p.shift[c] : v;
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
