// Conv and ConvTranspose kernels: attribute parsing once per node, geometry per input shape,
// then either the fast path (conv_fast_path.hpp) or the plain reference loops.
#include <cstring>

#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_fast_path.hpp"
#include "ops/conv/conv_reference.hpp"
#include "ops/kernel.hpp"

namespace amphora {
namespace {

class ConvKernel : public Kernel, public PiecewiseConv {
 public:
  ConvKernel(const Node& node, bool transpose, const KernelOptions& options)
      : node_(node), attrs_(ConvAttrs::parse(node, transpose)), reference_(options.reference) {}

  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) override {
    check_input_count(node_, inputs, 2, 3);
    const Tensor& x = *inputs[0];
    const Tensor& w = *inputs[1];
    const Tensor* bias = inputs.size() > 2 ? inputs[2] : nullptr;
    check_float(x, "X");
    check_float(w, "W");
    if (bias) check_float(*bias, "B");
    const ConvGeometry g =
        resolve_conv_geometry(node_, attrs_, x.shape(), w.shape(), bias ? &bias->shape() : nullptr);
    Tensor y = Tensor::uninitialized(DType::kFloat32, g.output_shape());
    if (y.numel() == 0 || x.numel() == 0) {  // nothing to compute (batch 0)
      std::memset(y.raw(), 0, y.nbytes());
      return {y};
    }
    if (!reference_ && fast_.run(g, x, w, bias, y)) return {y};
    std::memset(y.raw(), 0, y.nbytes());  // the reference kernels accumulate
    const float* b = bias ? bias->data<float>() : nullptr;
    if (attrs_.transpose) {
      conv_transpose_reference(g, x.data<float>(), w.data<float>(), b, y.data<float>());
    } else {
      conv_reference(g, x.data<float>(), w.data<float>(), b, y.data<float>());
    }
    return {y};
  }

  Tensor run_pieces(const Shape& x_shape, const std::vector<TimePiece>& x, const Tensor& w,
                    const Tensor* bias, const std::vector<TimePiece>* sum) override {
    if (reference_) return {};
    return run_conv_pieces(fast_, node_, attrs_, ConvPostOps{}, x_shape, x, w, bias, sum);
  }

 private:
  void check_float(const Tensor& t, const char* input) const {
    if (t.dtype() != DType::kFloat32) {
      fail(ErrorCode::kUnsupported, "{}: input {} is {}, only float32 is supported",
           node_.display_name(), input, dtype_name(t.dtype()));
    }
  }

  Node node_;
  ConvAttrs attrs_;
  bool reference_;
  ConvFastPath fast_;
};

}  // namespace

void register_conv_ops(OpRegistry& registry) {
  for (bool transpose : {false, true}) {
    registry.add("", transpose ? "ConvTranspose" : "Conv", 1,
                 [transpose](const Node& node, int64_t, const KernelOptions& options) {
                   return std::make_unique<ConvKernel>(node, transpose, options);
                 });
  }
  register_conv_stream_rules(registry);
}

}  // namespace amphora
