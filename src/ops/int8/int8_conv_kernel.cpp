// The int8 FusedConv / FusedConvTranspose kernel (int8.hpp): the tiled VNNI path for narrow convs
// (int8_conv_tiled.hpp), the oneDNN int8 path (int8_conv_onednn.hpp), or the reference -- X
// fake-quantized and W dequantized, then the float reference conv and the same element-wise steps
// as FusedConv's reference: what the QDQ graph this node replaced computes.
#include <cstring>

#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_fast_path.hpp"
#include "ops/conv/conv_fused.hpp"
#include "ops/conv/conv_narrow.hpp"
#include "ops/conv/conv_reference.hpp"
#include "ops/conv/conv_reflect_pad.hpp"
#include "ops/int8/int8.hpp"
#include "ops/int8/int8_conv_onednn.hpp"
#include "ops/int8/int8_conv_tiled.hpp"
#include "ops/int8/int8_quantize.hpp"

namespace amphora {
namespace {

// W as float: each value times its output channel's scale. Conv W is [OC, IC/g, k...];
// ConvTranspose W is [IC, OC/g, k...], output channel (i / (IC/g)) * OC/g + j.
Tensor dequantized_weights(const ConvGeometry& g, const Int8Scales& scales, const Tensor& w) {
  Tensor out(DType::kFloat32, w.shape());
  const int8_t* q = w.data<int8_t>();
  float* f = out.data<float>();
  const int64_t rows = w.dim(0), cols = w.dim(1), inner = w.numel() / (rows * cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t oc = g.transpose ? (r / g.in_channels_per_group()) * cols + j : r;
      const float s = scales.w(oc);
      const int64_t at = (r * cols + j) * inner;
      for (int64_t i = 0; i < inner; ++i) f[at + i] = static_cast<float>(q[at + i]) * s;
    }
  }
  return out;
}

class Int8ConvKernel : public Kernel, public PiecewiseConv {
 public:
  Int8ConvKernel(const Node& node, bool transpose, const KernelOptions& options)
      : node_(node),
        attrs_(ConvAttrs::parse(node, transpose)),
        post_(parse_conv_post_ops(node)),
        scales_(parse_int8_scales(node)),
        reference_(options.reference) {
    if (node.inputs.size() > 3 && !node.inputs[3].empty()) {
      post_.sum = true;
      Node add;
      add.name = node.name + "/sum";
      add.op_type = "Add";
      add.inputs = {"conv", "sum"};
      add.outputs = {"y"};
      broadcast_add_ = OpRegistry::instance().create(add, 14, options);
    }
  }

  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) override {
    check_input_count(node_, inputs, 2, 4);
    const Tensor& x = *inputs[0];
    const Tensor& w = *inputs[1];
    const Tensor* bias = inputs.size() > 2 ? inputs[2] : nullptr;
    const Tensor* residual = post_.sum ? inputs[3] : nullptr;
    for (const Tensor* t : {&x, bias, residual}) {
      if (t && t->dtype() != DType::kFloat32) {
        fail(ErrorCode::kUnsupported, "{}: X, B and Sum must be float32, got {} {}",
             node_.display_name(), dtype_name(t->dtype()), shape_str(t->shape()));
      }
    }
    if (w.dtype() != DType::kInt8) check_int8_weights(node_, scales_, w, 0);
    const ConvGeometry g =
        resolve_conv_geometry(node_, attrs_, x.shape(), w.shape(), bias ? &bias->shape() : nullptr);
    check_int8_weights(node_, scales_, w, g.out_channels);
    if (post_.reflect_pad && (g.spatial_rank != 1 || g.pad_begin[0] < 0 || g.pad_end[0] < 0 ||
                              g.pad_begin[0] >= g.in[0] || g.pad_end[0] >= g.in[0])) {
      fail(ErrorCode::kInvalidArgument,
           "{}: reflect pads ({}, {}) must be smaller than the input's length {} (1-D only)",
           node_.display_name(), g.pad_begin[0], g.pad_end[0], g.in.back());
    }
    Tensor y = Tensor::uninitialized(DType::kFloat32, g.output_shape());
    const bool exact_sum = residual && residual->shape() == y.shape();
    ConvPostOps post = post_;
    post.sum = exact_sum;
    const Tensor* sum = exact_sum ? residual : nullptr;
    if (y.numel() > 0 && x.numel() > 0) {
      const float slope = post_.input_activation ? post_.input_slope : 1.0f;
      const Quantizer quant = scales_.dynamic
                                  ? Quantizer::dynamic(x.data<float>(), x.numel(), slope)
                                  : Quantizer::int8(slope, scales_.x_scale);
      if (reference_ || !run_fast(g, x, w, quant, bias, post, sum, y)) {
        run_reference(g, x, w, quant, bias, sum, y);
      }
    } else if (exact_sum) {
      y = residual->clone();  // an empty conv adds nothing
    } else {
      std::memset(y.raw(), 0, y.nbytes());
    }
    if (residual && !exact_sum) return broadcast_add_->run({&y, residual});
    return {y};
  }

  // The streamer's entry point (conv_fast_path.hpp): the tiled VNNI kernel reads the window and
  // the residual where they lie. Declined (empty) where run() would take another path, or where a
  // dynamic X's scale would need the whole window first.
  Tensor run_pieces(const Shape& x_shape, const std::vector<TimePiece>& x, const Tensor& w,
                    const Tensor* bias, const std::vector<TimePiece>* sum) override {
    if (reference_ || attrs_.transpose || scales_.dynamic || post_.reflect_pad ||
        post_.sum != (sum != nullptr) || w.dtype() != DType::kInt8 ||
        (bias && bias->dtype() != DType::kFloat32) || !int8_tiled_available()) {
      return {};
    }
    const std::optional<ConvGeometry> g =
        piecewise_geometry(node_, attrs_, x_shape, x, w, bias, sum);
    if (!g || narrow_conv_applies(*g)) return {};
    check_int8_weights(node_, scales_, w, g->out_channels);
    const float slope = post_.input_activation ? post_.input_slope : 1.0f;
    Tensor y = Tensor::uninitialized(DType::kFloat32, g->output_shape());
    if (!tiled_.run_pieces(*g, x, w, scales_, Quantizer::int8(slope, scales_.x_scale), bias, post_,
                           sum, y)) {
      return {};
    }
    return y;
  }

 private:
  // Where the CPU has VNNI: the tiled VNNI kernel for narrow convs, oneDNN's int8 conv for the
  // rest. Elsewhere (oneDNN's int8 kernels would saturate), and for a conv_post of one or two
  // output channels (int8 pads them to 16 channels of work, and the float narrow_conv is 2x
  // faster than that), the float fast path on the same quantized values: X fake-quantized, W
  // dequantized once.
  bool run_fast(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Quantizer& quant,
                const Tensor* bias, const ConvPostOps& post, const Tensor* sum, Tensor& y) {
    if (int8_kernels_exact() && !narrow_conv_applies(g)) {
      return tiled_.run(g, x, w, scales_, quant, bias, post, sum, y) ||
             fast_.run(g, x, w, scales_, quant, bias, post, sum, y);
    }
    if (float_source_.raw() != w.raw()) {
      float_weights_ = dequantized_weights(g, scales_, w);
      float_source_ = w;
    }
    Tensor input = Tensor::uninitialized(DType::kFloat32, x.shape());
    fake_quantize(x.data<float>(), input.data<float>(), input.numel(), quant);
    ConvPostOps rest = post;
    rest.input_activation = false;  // applied by fake_quantize
    return float_fast_.run(g, input, float_weights_, bias, rest, sum, y);
  }

  void run_reference(const ConvGeometry& padded, const Tensor& x, const Tensor& w,
                     const Quantizer& quant, const Tensor* bias, const Tensor* residual,
                     Tensor& y) const {
    ConvGeometry g = padded;
    Tensor input = x.clone();
    if (post_.reflect_pad) {
      ReflectPadded unpadded = reflect_padded(padded, x);
      g = unpadded.geometry;
      input = unpadded.x.clone();
    }
    fake_quantize(input.data<float>(), input.numel(), quant);
    const Tensor weights = dequantized_weights(g, scales_, w);
    const float* b = bias ? bias->data<float>() : nullptr;
    float* out = y.data<float>();
    std::memset(out, 0, y.nbytes());  // the reference kernels accumulate
    if (attrs_.transpose) {
      conv_transpose_reference(g, input.data<float>(), weights.data<float>(), b, out);
    } else {
      conv_reference(g, input.data<float>(), weights.data<float>(), b, out);
    }
    apply_activation(post_, out, y.numel());
    if (residual) {
      const float* r = residual->data<float>();
      for (int64_t i = 0; i < y.numel(); ++i) out[i] += r[i];
    }
  }

  Node node_;
  ConvAttrs attrs_;
  ConvPostOps post_;
  Int8Scales scales_;
  bool reference_;
  Int8TiledConv tiled_;
  OnednnInt8Conv fast_;
  ConvFastPath float_fast_;
  Tensor float_weights_, float_source_;  // W dequantized, and the int8 buffer it came from
  std::unique_ptr<Kernel> broadcast_add_;
};

}  // namespace

std::unique_ptr<Kernel> make_int8_conv_kernel(const Node& node, bool transpose,
                                              const KernelOptions& options) {
  return std::make_unique<Int8ConvKernel>(node, transpose, options);
}

}  // namespace amphora
