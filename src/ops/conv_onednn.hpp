// oneDNN fast path for Conv and ConvTranspose: convolution_forward / deconvolution_forward with
// the bias fused. One primitive per input shape is created and cached; weights are reordered
// once into the layout that primitive prefers and kept. Activations cross the boundary in plain
// ONNX layout (ncw/nchw/ncdhw) and are reordered to and from the primitive's layout when it
// prefers a blocked one.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "core/tensor.hpp"
#include "ops/conv_attrs.hpp"

namespace amphora {

class OnednnConv {
 public:
  OnednnConv();
  ~OnednnConv();
  OnednnConv(const OnednnConv&) = delete;
  OnednnConv& operator=(const OnednnConv&) = delete;

  // Computes y (already allocated with g.output_shape()) from x, w and the optional bias.
  // Returns false, having written nothing, when oneDNN has no implementation for this problem
  // (e.g. negative padding from an oversized ConvTranspose output_shape); the caller then runs
  // the reference kernel. Not safe to call concurrently on one object.
  //
  // Weights are recognised by their buffer: while the same buffer is passed, it is assumed to
  // hold the same values (initializers are immutable), and the packed copy is reused.
  bool run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);

 private:
  struct Plan;
  struct PackedWeights;
  Plan* plan_for(const ConvGeometry& g, const Tensor& x, const Tensor& w, bool has_bias);
  // Points plan's weights at a packed copy of w in the primitive's layout, packing it when this
  // buffer has not been seen in that layout yet.
  void bind_weights(Plan& plan, const Tensor& w);

  static constexpr size_t kMaxPlans = 32;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;  // key: x shape, w shape, bias
  std::vector<std::unique_ptr<PackedWeights>> packed_;
};

}  // namespace amphora
