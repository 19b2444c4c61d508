#include "ops/elementwise/snake.hpp"

#include <cmath>

#include "ops/amphora_domain.hpp"
#include "ops/elementwise/elementwise_common.hpp"
#include "ops/elementwise/elementwise_fast.hpp"

namespace amphora {
namespace {

// One channel row, in the order of the graph it replaces: m = x*f, s = sin(m), x + inv*(s*s).
template <bool kReference>
void snake_row(const float* x, float* y, int64_t n, float freq, float inv) {
  if constexpr (kReference) {
    for (int64_t t = 0; t < n; ++t) {
      const float s = std::sin(x[t] * freq);
      y[t] = x[t] + inv * (s * s);
    }
  } else {
    bool outside = false;
#pragma omp simd reduction(|| : outside)
    for (int64_t t = 0; t < n; ++t) {
      const float m = x[t] * freq;
      const float s = fast_sin(m);
      y[t] = x[t] + inv * (s * s);
      outside = outside || !(std::fabs(m) <= kFastSinLimit);
    }
    if (outside) snake_row<true>(x, y, n, freq, inv);  // rare: huge, infinite or NaN inputs
  }
}

}  // namespace

void register_snake_op(OpRegistry& registry) {
  // Per-channel constants only: output step t from input step t.
  registry.set_stream_rule(kAmphoraDomain, "Snake", stream_pointwise);
  registry.add(
      kAmphoraDomain, "Snake", 1, [](const Node& node, int64_t, const KernelOptions& options) {
        const bool reference = options.reference;
        return std::make_unique<FunctionKernel>([node,
                                                 reference](const std::vector<const Tensor*>& in) {
          check_input_count(node, in, 3, 3);
          const Tensor& x = *in[0];
          const Tensor& freq = *in[1];
          const Tensor& inv = *in[2];
          if (x.dtype() != DType::kFloat32 || freq.dtype() != DType::kFloat32 ||
              inv.dtype() != DType::kFloat32 || x.rank() != 3 || freq.numel() != x.dim(1) ||
              inv.numel() != x.dim(1)) {
            fail(ErrorCode::kInvalidArgument,
                 "{}: expects float32 X [N, C, T] and C coefficients each; got X {} {}, freq {}, "
                 "inv {}",
                 node.display_name(), dtype_name(x.dtype()), shape_str(x.shape()),
                 shape_str(freq.shape()), shape_str(inv.shape()));
          }
          Tensor y = Tensor::uninitialized(DType::kFloat32, x.shape());
          const int64_t channels = x.dim(1), length = x.dim(2), rows = x.dim(0) * channels;
          const float* xs = x.data<float>();
          const float* f = freq.data<float>();
          const float* a = inv.data<float>();
          float* ys = y.data<float>();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelElements)
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t c = r % channels;
            if (reference) {
              snake_row<true>(xs + r * length, ys + r * length, length, f[c], a[c]);
            } else {
              snake_row<false>(xs + r * length, ys + r * length, length, f[c], a[c]);
            }
          }
          return std::vector<Tensor>{y};
        });
      });
}

}  // namespace amphora
