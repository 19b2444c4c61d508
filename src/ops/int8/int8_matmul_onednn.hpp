// oneDNN int8 matmul of the int8 FusedMatMul (int8.hpp): A quantized row by row into the
// [M, K] layout the primitive reads, one s8 x s8 -> s32 matmul (u8 x s8 with the zero point taken
// out through the bias for dynamic quantization) with output scales x_scale * w_scale[n], the
// bias, GELU (erf) and the residual as post-ops; B reordered once per buffer.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "core/tensor.hpp"
#include "ops/int8/int8.hpp"
#include "ops/int8/int8_quantize.hpp"

namespace amphora {

class OnednnInt8Matmul {
 public:
  OnednnInt8Matmul();
  ~OnednnInt8Matmul();
  OnednnInt8Matmul(const OnednnInt8Matmul&) = delete;
  OnednnInt8Matmul& operator=(const OnednnInt8Matmul&) = delete;

  // out [m, n] from float a [m, k] and int8 b [k, n]; the residual already copied into out when
  // `sum`. `quant` quantizes A: int8, or uint8 with a zero point (scales.dynamic), taken out
  // through the bias: sum_k (q - zp) b = sum_k q b - zp * column_sums[n]. Returns false, having
  // written nothing, when oneDNN cannot run it.
  bool run(int64_t m, int64_t k, int64_t n, const Tensor& a, const Tensor& b,
           const Int8Scales& scales, const Quantizer& quant, const Tensor* bias, bool gelu,
           bool sum, Tensor& out);

 private:
  struct Plan;
  struct Weights;
  Plan* plan_for(int64_t m, int64_t k, int64_t n, const Int8Scales& scales, bool has_bias,
                 bool gelu, bool sum);

  static constexpr size_t kMaxPlans = 32;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;
  std::unique_ptr<Weights> weights_;
};

}  // namespace amphora
