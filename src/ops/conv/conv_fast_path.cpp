#include "ops/conv/conv_fast_path.hpp"

#include "ops/conv/conv_narrow.hpp"
#include "ops/conv/conv_reflect_pad.hpp"

namespace amphora {

bool ConvFastPath::run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias,
                       Tensor& y) {
  return run(g, x, w, bias, ConvPostOps{}, nullptr, y);
}

bool ConvFastPath::run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias,
                       const ConvPostOps& post, const Tensor* residual, Tensor& y) {
  if (post.sum != (residual != nullptr) || (residual && residual->shape() != y.shape())) {
    fail(ErrorCode::kInternal, "conv fast path: the sum post-op needs a residual of shape {}",
         shape_str(y.shape()));
  }
  if (post.reflect_pad && (narrow_conv_applies(g) ||
                           !onednn_.mirrors_reflect_padding(g, x, w, bias != nullptr, post))) {
    const ReflectPadded padded = reflect_padded(g, x);
    ConvPostOps rest = post;
    rest.reflect_pad = false;
    return run(padded.geometry, padded.x, w, bias, rest, residual, y);
  }
  if (narrow_conv_applies(g)) {
    return narrow_conv(g, x.data<float>(), w.data<float>(), bias ? bias->data<float>() : nullptr,
                       post, residual ? residual->data<float>() : nullptr, y.data<float>());
  }
  return onednn_.run(g, x, w, bias, post, residual, y);
}

bool ConvFastPath::run_pieces(const ConvGeometry& g, const std::vector<TimePiece>& x,
                              const Tensor& w, const Tensor* bias, const ConvPostOps& post,
                              const std::vector<TimePiece>* residual, Tensor& y) {
  if (narrow_conv_applies(g)) {
    if (residual || post.reflect_pad || g.pad_begin[0] != 0 || g.pad_end[0] != 0) return false;
    return narrow_conv(g, x, w.data<float>(), bias ? bias->data<float>() : nullptr, post, nullptr,
                       y.data<float>());
  }
  return onednn_.run_pieces(g, x, w, bias, post, residual, y);
}

std::optional<ConvGeometry> piecewise_geometry(const Node& node, const ConvAttrs& attrs,
                                               const Shape& x_shape,
                                               const std::vector<TimePiece>& x, const Tensor& w,
                                               const Tensor* bias,
                                               const std::vector<TimePiece>* sum) {
  const auto total_length = [](const std::vector<TimePiece>& pieces) {
    int64_t n = 0;
    for (const TimePiece& piece : pieces) n += piece.length;
    return n;
  };
  const ConvGeometry g =
      resolve_conv_geometry(node, attrs, x_shape, w.shape(), bias ? &bias->shape() : nullptr);
  if (g.spatial_rank != 1 || total_length(x) != g.in[0] ||
      (sum && total_length(*sum) != g.out[0]) || g.out[0] <= 0) {
    return std::nullopt;
  }
  return g;
}

Tensor run_conv_pieces(ConvFastPath& fast, const Node& node, const ConvAttrs& attrs,
                       const ConvPostOps& post, const Shape& x_shape,
                       const std::vector<TimePiece>& x, const Tensor& w, const Tensor* bias,
                       const std::vector<TimePiece>* sum) {
  if (attrs.transpose || post.reflect_pad || post.sum != (sum != nullptr) ||
      w.dtype() != DType::kFloat32 || (bias && bias->dtype() != DType::kFloat32)) {
    return {};
  }
  const std::optional<ConvGeometry> g = piecewise_geometry(node, attrs, x_shape, x, w, bias, sum);
  if (!g) return {};
  Tensor y = Tensor::uninitialized(DType::kFloat32, g->output_shape());
  if (!fast.run_pieces(*g, x, w, bias, post, sum, y)) return {};
  return y;
}

}  // namespace amphora
