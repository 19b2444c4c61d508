// oneDNN int8 fast path of the int8 FusedConv / FusedConvTranspose (int8.hpp): X is quantized to
// s8 in the channels-last layout (nwc) the int8 primitives want, with the input activation and
// the conv's padding (zeros or reflect) applied in the same loop; then one s8 x s8 -> s32 (u8 x
// s8 for dynamic quantization, the zero point taken out through the bias)
// convolution (or deconvolution) whose output scales x_scale * w_scale[c] turn the int32 sums
// into float, with the bias, the activation as an eltwise post-op and the residual as a sum
// post-op. The float result is reordered from nwc to ONNX's ncw. Weights are reordered once per
// buffer into the primitive's layout (with oneDNN's compensation for signed inputs) and kept.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "core/tensor.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_post_ops.hpp"
#include "ops/int8/int8.hpp"
#include "ops/int8/int8_quantize.hpp"

namespace amphora {

class OnednnInt8Conv {
 public:
  OnednnInt8Conv();
  ~OnednnInt8Conv();
  OnednnInt8Conv(const OnednnInt8Conv&) = delete;
  OnednnInt8Conv& operator=(const OnednnInt8Conv&) = delete;

  // Computes y (allocated with g.output_shape()) from float x and int8 w (ONNX layouts). The
  // scales are fixed per object (a kernel's attributes). `residual` (y's shape) is given exactly
  // when post.sum. Returns false, having written nothing, when the problem is not a 1-D one
  // oneDNN runs in int8 (e.g. a ConvTranspose cropping more than its kernel); the caller then
  // runs the reference. Not safe to call concurrently on one object.
  // `quant` quantizes X (int8, or uint8 with a zero point when scales.dynamic).
  bool run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Int8Scales& scales,
           const Quantizer& quant, const Tensor* bias, const ConvPostOps& post,
           const Tensor* residual, Tensor& y);

  // The oneDNN implementation of the last plan (e.g. "jit_int8:avx512_core_vnni"), for the
  // benchmark's report.
  const std::string& implementation() const { return implementation_; }

 private:
  struct Plan;
  struct PackedWeights;
  Plan* plan_for(const ConvGeometry& g, const Int8Scales& scales, bool has_bias,
                 const ConvPostOps& post);
  void bind_weights(Plan& plan, const Tensor& w);

  static constexpr size_t kMaxPlans = 32;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;
  std::vector<std::unique_ptr<PackedWeights>> packed_;
  std::string implementation_;
};

}  // namespace amphora
