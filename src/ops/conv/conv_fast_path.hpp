// The fast path of Conv, ConvTranspose and the fused convs: which implementation runs one conv
// problem. In order:
//   - reflect padding (ConvPostOps::reflect_pad): mirrored while packing X where the problem runs
//     tiled, otherwise the conv runs unpadded over a reflect-padded copy (conv_reflect_pad.hpp);
//   - one or two output channels (a vocoder's conv_post): narrow_conv (conv_narrow.hpp);
//   - a streamed conv's X and residual as pieces (run_pieces): narrow_conv or the tiled conv,
//     which read them in place; otherwise the streamer joins them and calls run();
//   - everything else: oneDNN (conv_onednn.hpp), which picks its own layout -- tiled, time
//     phases, sub-pixel ConvTranspose or the primitive's preferred one.
// The kernels (conv.cpp, conv_fused.cpp) fall back to the reference loops when run() declines.
#pragma once

#include <optional>
#include <vector>

#include "core/tensor.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_onednn.hpp"
#include "ops/conv/conv_post_ops.hpp"
#include "ops/conv/conv_tiled.hpp"

namespace amphora {

class ConvFastPath {
 public:
  // Computes y (already allocated with g.output_shape()) from x, w and the optional bias.
  // Returns false, having written nothing, when no fast implementation covers the problem (e.g.
  // negative padding from an oversized ConvTranspose output_shape). Not safe to call
  // concurrently on one object; caches per input shape like OnednnConv.
  bool run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias, Tensor& y);
  // The same with post-ops; `residual` (shape of y) is required exactly when post.sum.
  bool run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias,
           const ConvPostOps& post, const Tensor* residual, Tensor& y);
  // A streamed conv with X and the residual as pieces along time (OnednnConv::run_pieces).
  // A narrow conv (one or two outputs, no residual) gathers its tiles from the pieces itself.
  bool run_pieces(const ConvGeometry& g, const std::vector<TimePiece>& x, const Tensor& w,
                  const Tensor* bias, const ConvPostOps& post,
                  const std::vector<TimePiece>* residual, Tensor& y);

 private:
  OnednnConv onednn_;
};

// The Conv and FusedConv kernels' second entry point, for the streamer, whose X is its retained
// history and the new chunk, and whose residual may be several chunks: both are read where they lie
// instead of being joined into one tensor first.
class PiecewiseConv {
 public:
  virtual ~PiecewiseConv() = default;
  // run({X, W, B, Sum}) where X (of `x_shape`, batch 1, unpadded along time) and Sum (when the
  // node has one: output-shaped) are the pieces joined along time. An empty tensor, having
  // computed nothing, where no fast path reads pieces: the caller joins them and calls run().
  virtual Tensor run_pieces(const Shape& x_shape, const std::vector<TimePiece>& x, const Tensor& w,
                            const Tensor* bias, const std::vector<TimePiece>* sum) = 0;
};

// The geometry of a 1-D conv node run on pieces (PiecewiseConv::run_pieces's arguments): none
// where the pieces are not as long as X's shape, or the residual's (`sum`, when given) not as
// long as the output, or the output is empty.
std::optional<ConvGeometry> piecewise_geometry(const Node& node, const ConvAttrs& attrs,
                                               const Shape& x_shape,
                                               const std::vector<TimePiece>& x, const Tensor& w,
                                               const Tensor* bias,
                                               const std::vector<TimePiece>* sum);

// PiecewiseConv::run_pieces of a conv node with these attributes and post-ops, on `fast`.
Tensor run_conv_pieces(ConvFastPath& fast, const Node& node, const ConvAttrs& attrs,
                       const ConvPostOps& post, const Shape& x_shape,
                       const std::vector<TimePiece>& x, const Tensor& w, const Tensor* bias,
                       const std::vector<TimePiece>* sum);

}  // namespace amphora
