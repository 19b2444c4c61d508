// FusedConv / FusedConvTranspose kernels: the oneDNN conv with post-ops, or the reference conv
// followed by the same activation and sum as plain loops (the definition the fast path is
// tested against).
#include "ops/conv/conv_fused.hpp"

#include <cmath>
#include <cstring>

#include "ops/amphora_domain.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_fast_path.hpp"
#include "ops/conv/conv_reference.hpp"
#include "ops/conv/conv_reflect_pad.hpp"
#include "ops/int8/int8.hpp"

namespace amphora {
namespace {

using Activation = ConvPostOps::Activation;

// A plain Add node between the fused output and the sum input, used when the sum input does not
// have the output's exact shape (broadcasting), which the oneDNN sum post-op cannot do.
Node broadcast_add_node(const Node& fused) {
  Node add;
  add.name = fused.name + "/sum";
  add.op_type = "Add";
  add.inputs = {"conv", "sum"};
  add.outputs = {"y"};
  return add;
}

class FusedConvKernel : public Kernel, public PiecewiseConv {
 public:
  FusedConvKernel(const Node& node, bool transpose, const KernelOptions& options)
      : node_(node),
        attrs_(ConvAttrs::parse(node, transpose)),
        post_(parse_conv_post_ops(node)),
        reference_(options.reference) {
    if (node.inputs.size() > 3 && !node.inputs[3].empty()) {
      post_.sum = true;
      broadcast_add_ = OpRegistry::instance().create(broadcast_add_node(node), 14, options);
    }
  }

  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) override {
    check_input_count(node_, inputs, 2, 4);
    const Tensor& x = *inputs[0];
    const Tensor& w = *inputs[1];
    const Tensor* bias = inputs.size() > 2 ? inputs[2] : nullptr;
    const Tensor* residual = post_.sum ? inputs[3] : nullptr;
    for (const Tensor* t : {&x, &w, bias, residual}) {
      if (t && t->dtype() != DType::kFloat32) {
        fail(ErrorCode::kUnsupported, "{}: inputs are {}, only float32 is supported",
             node_.display_name(), dtype_name(t->dtype()));
      }
    }
    const ConvGeometry g =
        resolve_conv_geometry(node_, attrs_, x.shape(), w.shape(), bias ? &bias->shape() : nullptr);
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
    if (y.numel() > 0 && x.numel() > 0) {
      if (reference_ || !fast_.run(g, x, w, bias, post, exact_sum ? residual : nullptr, y)) {
        std::memset(y.raw(), 0, y.nbytes());  // the reference kernels accumulate
        run_reference(g, x, w, bias, exact_sum ? residual : nullptr, y);
      }
    } else if (exact_sum) {
      y = residual->clone();  // an empty conv adds nothing
    } else {
      std::memset(y.raw(), 0, y.nbytes());
    }
    if (residual && !exact_sum) return broadcast_add_->run({&y, residual});
    return {y};
  }

  Tensor run_pieces(const Shape& x_shape, const std::vector<TimePiece>& x, const Tensor& w,
                    const Tensor* bias, const std::vector<TimePiece>* sum) override {
    if (reference_) return {};
    return run_conv_pieces(fast_, node_, attrs_, post_, x_shape, x, w, bias, sum);
  }

 private:
  void run_reference(const ConvGeometry& padded, const Tensor& x, const Tensor& w,
                     const Tensor* bias, const Tensor* residual, Tensor& y) const {
    const float* b = bias ? bias->data<float>() : nullptr;
    float* out = y.data<float>();
    ConvGeometry g = padded;
    Tensor input = x;
    if (post_.reflect_pad) {
      ReflectPadded unpadded = reflect_padded(padded, x);
      g = unpadded.geometry;
      input = unpadded.x;
    }
    if (post_.input_activation) {
      input = input.clone();
      float* p = input.data<float>();
      for (int64_t i = 0; i < input.numel(); ++i)
        p[i] = p[i] >= 0.0f ? p[i] : p[i] * post_.input_slope;
    }
    if (attrs_.transpose) {
      conv_transpose_reference(g, input.data<float>(), w.data<float>(), b, out);
    } else {
      conv_reference(g, input.data<float>(), w.data<float>(), b, out);
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
  bool reference_;
  ConvFastPath fast_;
  std::unique_ptr<Kernel> broadcast_add_;
};

}  // namespace

void apply_activation(const ConvPostOps& post, float* y, int64_t n) {
  switch (post.activation) {
    case Activation::kNone:
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = y[i] > 0.0f ? y[i] : 0.0f;
      return;
    case Activation::kLeakyRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = y[i] >= 0.0f ? y[i] : y[i] * post.alpha;
      return;
    case Activation::kTanh:
      for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
      return;
  }
}

ConvPostOps parse_conv_post_ops(const Node& node) {
  ConvPostOps post;
  const std::string activation = node.get_string("activation", "");
  if (activation == "Relu") {
    post.activation = Activation::kRelu;
  } else if (activation == "LeakyRelu") {
    post.activation = Activation::kLeakyRelu;
    post.alpha = node.get_float("alpha", 0.01f);
  } else if (activation == "Tanh") {
    post.activation = Activation::kTanh;
  } else if (!activation.empty()) {
    fail(ErrorCode::kInvalidModel,
         "{}: activation '{}' is not one FusedConv supports (Relu, LeakyRelu, Tanh)",
         node.display_name(), activation);
  }
  const std::string pad_mode = node.get_string("pad_mode", "constant");
  if (pad_mode == "reflect") {
    post.reflect_pad = true;
  } else if (pad_mode != "constant") {
    fail(ErrorCode::kInvalidModel,
         "{}: pad_mode '{}' is not one FusedConv supports (constant, reflect)", node.display_name(),
         pad_mode);
  }
  const std::string input_activation = node.get_string("input_activation", "");
  if (input_activation == "Relu") {
    post.input_activation = true;
    post.input_slope = 0.0f;
  } else if (input_activation == "LeakyRelu") {
    post.input_activation = true;
    post.input_slope = node.get_float("input_alpha", 0.01f);
  } else if (!input_activation.empty()) {
    fail(ErrorCode::kInvalidModel,
         "{}: input_activation '{}' is not one FusedConv supports (Relu, LeakyRelu)",
         node.display_name(), input_activation);
  }
  return post;
}

void register_fused_conv_ops(OpRegistry& registry) {
  for (bool transpose : {false, true}) {
    registry.add(kAmphoraDomain, transpose ? "FusedConvTranspose" : "FusedConv", 1,
                 [transpose](const Node& node, int64_t,
                             const KernelOptions& options) -> std::unique_ptr<Kernel> {
                   // int8 weights and a quantized X (passes/fuse_int8.cpp): ops/int8
                   if (is_int8_node(node)) return make_int8_conv_kernel(node, transpose, options);
                   return std::make_unique<FusedConvKernel>(node, transpose, options);
                 });
  }
}

}  // namespace amphora
