// oneDNN fast path for Conv and ConvTranspose: convolution_forward / deconvolution_forward with
// the bias fused. One primitive per input shape is created and cached; weights are reordered
// once into the layout that primitive prefers and kept. Activations cross the boundary in plain
// ONNX layout (ncw/nchw/ncdhw) and are reordered to and from the primitive's layout when it
// prefers a blocked one. A strided 1-D ConvTranspose runs as the equivalent stacked sub-pixel
// convolution instead (deconv_subpixel.hpp), as oneDNN's deconvolution is GEMM-based and slow;
// long 1-D convs with few channels run tile by tile (conv_tiled.hpp) and dilated ones over time
// phases (conv_phases.hpp), both with our own packing into the primitive's layout. What runs
// before this (reflect padding, convs with one or two outputs): conv_fast_path.hpp.
//
// Fused convs (com.amphora FusedConv, src/passes/fuse_conv.cpp) add post-ops: an activation on
// the conv's result and then, optionally, the sum of a residual of the output's shape --
// y = act(conv(x) + b) + residual -- so the activation and the residual Add cost no extra pass
// over memory.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "core/tensor.hpp"
#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_post_ops.hpp"

namespace amphora {

struct PhaseSplit;
struct SubpixelSplit;
struct TileSplit;
struct TimePiece;

// The shortest tile run_pieces() splits a streamed chunk into (a 16-frame push of HiFi-GAN's
// first stage is 128 samples: one tile per thread).
inline constexpr int64_t kStreamedMinTile = 16;

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
  // The same with post-ops; `residual` (shape of y) is required exactly when post.sum. Reflect
  // padding (post.reflect_pad) only where mirrors_reflect_padding() says so.
  bool run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias,
           const ConvPostOps& post, const Tensor* residual, Tensor& y);
  // Whether run() mirrors X for reflect padding itself on this problem: only the tiled layout
  // packs X that way. Plans the problem as run() would (the plan is cached for it).
  bool mirrors_reflect_padding(const ConvGeometry& g, const Tensor& x, const Tensor& w,
                               bool has_bias, const ConvPostOps& post);
  // A streamed conv: X ([1, C_in, g.in]) and the residual (with post.sum) given as the pieces
  // that make them along time, packed tile by tile where they lie (conv_tiled.hpp), with tiles
  // down to kStreamedMinTile samples. Returns false, having written nothing, where the problem
  // does not run tiled (unpadded 1-D only); the caller then joins the pieces and calls run().
  bool run_pieces(const ConvGeometry& g, const std::vector<TimePiece>& x, const Tensor& w,
                  const Tensor* bias, const ConvPostOps& post,
                  const std::vector<TimePiece>* residual, Tensor& y);

 private:
  struct Plan;
  struct PackedWeights;
  // `streamed`: the plan run_pieces() uses, tiled or unsupported.
  Plan* plan_for(const ConvGeometry& g, const Shape& x_shape, const Tensor& w, bool has_bias,
                 const ConvPostOps& post, bool streamed);
  // Points plan's weights at a packed copy of w in the primitive's layout, packing it when this
  // buffer has not been seen in that layout yet.
  void bind_weights(Plan& plan, const Tensor& w);
  bool plan_phases(Plan& plan, const PhaseSplit& split, bool has_bias);
  static bool plan_direct_blocked(Plan& plan, const ConvGeometry& conv, const Shape& src_shape,
                                  const Shape& dst_shape, int64_t block, bool has_bias,
                                  const ConvPostOps& post);
  // A long conv with few channels, one time tile per thread at a time (conv_tiled.hpp).
  static bool plan_tiled(Plan& plan, const TileSplit& split, bool has_bias);
  // Fills one tile's packed window of X (or its residual) from output sample t0 on.
  using TilePacker = std::function<void(int64_t t0, float* packed)>;
  static void run_tiled(const Plan& plan, const ConvGeometry& g, const Tensor* bias,
                        const TilePacker& pack_x, const TilePacker& pack_residual, Tensor& y);
  static void run_phases(const Plan& plan, const ConvGeometry& g, const Tensor& x,
                         const Tensor* bias, float input_slope, const Tensor* residual, Tensor& y);
  // ConvTranspose as one stacked conv over its output phases (deconv_subpixel.hpp).
  bool plan_subpixel(Plan& plan, const ConvGeometry& g, const SubpixelSplit& split, bool has_bias);
  static void run_subpixel(const Plan& plan, const Tensor& x, const Tensor* bias, float input_slope,
                           const Tensor* residual, Tensor& y);

  static constexpr size_t kMaxPlans = 32;
  // key: x shape, w shape, bias; the post-ops are fixed per kernel (checked in plan_for)
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;
  std::vector<std::unique_ptr<PackedWeights>> packed_;
};

}  // namespace amphora
