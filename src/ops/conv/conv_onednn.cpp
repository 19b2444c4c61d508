#include "ops/conv/conv_onednn.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "ops/conv/conv_onednn_desc.hpp"
#include "ops/conv/conv_phases.hpp"
#include "ops/conv/conv_tiled.hpp"
#include "ops/conv/deconv_subpixel.hpp"
#include "ops/elementwise/elementwise_fast.hpp"
#include "ops/onednn.hpp"

namespace amphora {

using dnnl::memory;

struct OnednnConv::Plan {
  bool supported = false;
  bool src_ncw8c = false;  // src_blocked is nCw8c over batch 1: our pack_phases can fill it
  dnnl::primitive primitive;
  memory::desc src_plain, dst_plain, weights_plain, bias_plain;
  // The primitive's activation layouts when they differ from the plain ones (zero descs
  // otherwise); the data then passes through thread-shared scratch buffers.
  memory::desc src_blocked, dst_blocked;
  dnnl::primitive src_reorder, dst_reorder;
  dnnl::primitive residual_reorder;  // plain residual -> blocked dst, for the sum post-op
  ConvPostOps post;
  // Valid when the conv runs as an undilated conv over time phases (conv_phases.hpp); the
  // activations are then packed by our own loops into src_blocked/dst_blocked.
  PhaseSplit split;
  // Valid when the conv runs tile by tile over time (conv_tiled.hpp), the primitive computing
  // one tile from one packed window of src_blocked into dst_blocked.
  TileSplit tiles;
  // Valid when a ConvTranspose runs as a stacked conv over its output phases; `geometry` is
  // the ConvTranspose's, needed to stack its weights and to interleave.
  SubpixelSplit subpixel;
  ConvGeometry geometry;
  memory::desc weights_desc;
  memory weights;         // packed copy of weights_source
  Tensor weights_source;  // held so that its address cannot be reused by another buffer
};

struct OnednnConv::PackedWeights {
  Tensor source;  // keeps the source buffer alive, so its address identifies it
  memory::desc desc;
  memory packed;
};

OnednnConv::OnednnConv() = default;
OnednnConv::~OnednnConv() = default;

namespace {

memory::desc any_desc(const memory::desc& plain) {
  return memory::desc(plain.dims(), memory::data_type::f32, memory::format_tag::any);
}

// Channel-blocked by 16 (nCw16c / nChw16c / nCdhw16c), AVX-512's activation layout.
memory::desc blocked16_desc(const memory::desc& plain) {
  using tag = memory::format_tag;
  const size_t rank = plain.dims().size();
  const tag blocked = rank == 3 ? tag::nCw16c : rank == 4 ? tag::nChw16c : tag::nCdhw16c;
  return memory::desc(plain.dims(), memory::data_type::f32, blocked);
}

// The primitive oneDNN picks for the problem, with the layouts it wants.
struct Chosen {
  dnnl::primitive primitive;
  memory::desc src, weights, dst;
  std::string implementation;  // e.g. "jit:avx2", "x64:gemm:jit"
};

// Skips oneDNN 2.6's brgemm convolutions, which it prefers on AVX-512 machines: their primitive
// creation grows with the time axis (HiFi-GAN V1 at 512 frames spent 12 s creating primitives on
// its first run) for no gain per run. The next implementation in oneDNN's order of preference
// (jit:avx512_core, then jit:avx2, ...) is taken instead; brgemm only when nothing else applies.
template <typename PrimitiveDesc, typename Primitive>
Chosen choose(const PrimitiveDesc& first) {
  PrimitiveDesc pd = first;
  while (std::string(pd.impl_info_str()).find("brg") != std::string::npos) {
    if (!pd.next_impl()) {
      pd = first;
      break;
    }
  }
  return {Primitive(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc(), pd.impl_info_str()};
}

dnnl::primitive_attr post_ops_attr(const ConvPostOps& post, dnnl::post_ops ops = {}) {
  using Activation = ConvPostOps::Activation;
  switch (post.activation) {
    case Activation::kNone:
      break;
    case Activation::kRelu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      break;
    case Activation::kLeakyRelu:
      // oneDNN's relu takes the negative slope as alpha.
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, post.alpha, 0.0f);
      break;
    case Activation::kTanh:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f);
      break;
  }
  if (post.sum) ops.append_sum(1.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

// Throws dnnl::error when oneDNN has no implementation.
Chosen create_primitive(const ConvGeometry& g, const memory::desc& src, const memory::desc& weights,
                        const memory::desc* bias, const memory::desc& dst,
                        const ConvPostOps& post) {
  const dnnl::primitive_attr attr = post_ops_attr(post);
  const size_t rank = g.spatial_rank;
  memory::dims strides(g.strides.begin(), g.strides.end());
  memory::dims dilations(rank), pad_l(g.pad_begin.begin(), g.pad_begin.end()), pad_r(rank);
  for (size_t i = 0; i < rank; ++i) {
    dilations[i] = g.dilations[i] - 1;  // oneDNN counts the holes, ONNX the step
    const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    // Right padding that reproduces ONNX's output size exactly; for ConvTranspose it absorbs
    // output_padding (pad_end minus output_padding, possibly negative, which oneDNN accepts).
    pad_r[i] = g.transpose ? (g.in[i] - 1) * g.strides[i] + span - g.pad_begin[i] - g.out[i]
                           : (g.out[i] - 1) * g.strides[i] + span - g.in[i] - g.pad_begin[i];
  }
  const auto prop = dnnl::prop_kind::forward_inference;
  if (g.transpose) {
    using Deconv = dnnl::deconvolution_forward;
    const auto algo = dnnl::algorithm::deconvolution_direct;
    auto d =
        bias ? Deconv::desc(prop, algo, src, weights, *bias, dst, strides, dilations, pad_l, pad_r)
             : Deconv::desc(prop, algo, src, weights, dst, strides, dilations, pad_l, pad_r);
    return choose<Deconv::primitive_desc, Deconv>(Deconv::primitive_desc(d, attr, onednn_engine()));
  }
  using Conv = dnnl::convolution_forward;
  const auto algo = dnnl::algorithm::convolution_direct;
  auto d = bias ? Conv::desc(prop, algo, src, weights, *bias, dst, strides, dilations, pad_l, pad_r)
                : Conv::desc(prop, algo, src, weights, dst, strides, dilations, pad_l, pad_r);
  return choose<Conv::primitive_desc, Conv>(Conv::primitive_desc(d, attr, onednn_engine()));
}

// out = Relu/LeakyRelu(in) with `slope` on the negative side: a conv's input activation where it
// cannot ride along a packing step. `out` may be `in`.
void apply_input_slope(const float* in, float* out, int64_t n, float slope) {
  constexpr int64_t kChunk = 16384;
#pragma omp parallel for schedule(static) if (n > 4 * kChunk)
  for (int64_t at = 0; at < n; at += kChunk) {
    leaky_relu_row(in + at, out + at, std::min(kChunk, n - at), slope);
  }
}

dnnl::primitive reorder_between(const memory::desc& from, const memory::desc& to) {
  return dnnl::reorder(dnnl::reorder::primitive_desc(onednn_engine(), from, onednn_engine(), to));
}

}  // namespace

OnednnConv::Plan* OnednnConv::plan_for(const ConvGeometry& g, const Shape& input_shape, const Tensor& w,
                                       bool has_bias, const ConvPostOps& post, bool streamed) {
  std::vector<int64_t> key = input_shape;
  key.insert(key.end(), w.shape().begin(), w.shape().end());
  // The padding too: a reflect-padded conv runs its unpadded self on a padded copy of X, whose
  // shape another input of the same node may have.
  key.insert(key.end(), g.pad_begin.begin(), g.pad_begin.end());
  key.insert(key.end(), g.pad_end.begin(), g.pad_end.end());
  key.push_back(has_bias ? 1 : 0);
  key.push_back(static_cast<int64_t>(post.activation));
  key.push_back(post.sum ? 1 : 0);
  key.push_back(streamed ? 1 : 0);
  // The input activation is not part of the primitive (it is applied while packing X).
  const auto same_primitive = [&post](const ConvPostOps& other) {
    return other.activation == post.activation && other.alpha == post.alpha &&
           other.sum == post.sum;
  };
  if (auto it = plans_.find(key); it != plans_.end() && same_primitive(it->second->post)) {
    return it->second.get();
  }
  // Streaming with ever-changing chunk lengths must not grow the cache without bound.
  if (plans_.size() >= kMaxPlans) plans_.clear();
  auto& slot = plans_[key];
  slot = std::make_unique<Plan>();
  Plan& plan = *slot;
  plan.post = post;
  for (int64_t p : g.pad_begin) {
    if (p < 0) return &plan;  // oneDNN has no negative left padding; reference handles it
  }
  const int64_t block = onednn_has_avx512() ? 16 : 8;
  if (streamed) {  // tiled or nothing: run_pieces() reads X and the residual as pieces
    if (TileSplit split = split_into_tiles(g, block, kStreamedMinTile, 1); split.valid) {
      plan_tiled(plan, split, has_bias);
    }
    return &plan;
  }
  if (TileSplit split = split_into_tiles(g, block); split.valid && plan_tiled(plan, split, has_bias)) {
    return &plan;
  }
  if (PhaseSplit split = split_into_phases(g); split.valid && plan_phases(plan, split, has_bias)) {
    return &plan;
  }
  if (SubpixelSplit split = split_subpixel(g);
      split.valid && plan_subpixel(plan, g, split, has_bias)) {
    return &plan;
  }
  const ConvGeometry lifted = lift_depthwise_1d(g);
  Shape x_shape{g.batch, g.in_channels};
  x_shape.insert(x_shape.end(), lifted.in.begin(), lifted.in.end());
  plan.src_plain = onednn_plain_desc(x_shape);
  plan.dst_plain = onednn_plain_desc(lifted.output_shape());
  plan.weights_plain = weights_desc_over_onnx(lifted, memory::data_type::f32);
  plan.bias_plain = onednn_plain_desc({g.out_channels});
  Chosen chosen;
  // On AVX-512, ask for nCw16c activations first: that is what jit:avx512_core wants, and the
  // brgemm convolutions turn it down at once, where with `any` they are created (seconds and
  // hundreds of MB of peak memory on long inputs) only for `choose` to skip them.
  if (onednn_has_avx512()) {
    try {
      chosen = create_primitive(lifted, blocked16_desc(plan.src_plain),
                                any_desc(plan.weights_plain), has_bias ? &plan.bias_plain : nullptr,
                                blocked16_desc(plan.dst_plain), post);
      if (chosen.implementation.rfind("jit", 0) != 0) chosen = Chosen{};
    } catch (const dnnl::error&) {
    }
  }
  try {
    if (!chosen.primitive) {
      chosen =
          create_primitive(lifted, any_desc(plan.src_plain), any_desc(plan.weights_plain),
                           has_bias ? &plan.bias_plain : nullptr, any_desc(plan.dst_plain), post);
    }
  } catch (const dnnl::error&) {
    return &plan;  // unimplemented for this problem: stays unsupported
  }
  plan.primitive = chosen.primitive;
  const memory::desc& src = chosen.src;
  const memory::desc& dst = chosen.dst;
  if (src != plan.src_plain) {
    plan.src_blocked = src;
    plan.src_reorder = reorder_between(plan.src_plain, src);
    plan.src_ncw8c =
        g.spatial_rank == 1 && lifted.spatial_rank == 1 && g.batch == 1 &&
        src == memory::desc(src.dims(), memory::data_type::f32, memory::format_tag::nCw8c);
  }
  if (dst != plan.dst_plain) {
    plan.dst_blocked = dst;
    plan.dst_reorder = reorder_between(dst, plan.dst_plain);
    if (post.sum) plan.residual_reorder = reorder_between(plan.dst_plain, dst);
  }
  plan.weights_desc = chosen.weights;
  plan.supported = true;
  return &plan;
}

// Plans `conv` with nCw8c (block 8) or nCw16c (block 16) source and destination of the given
// shapes (the layouts our own packing writes and reads), when oneDNN has a direct (jit) kernel for
// exactly those; otherwise returns false and leaves the choice to the caller.
bool OnednnConv::plan_direct_blocked(Plan& plan, const ConvGeometry& conv, const Shape& src_shape,
                                     const Shape& dst_shape, int64_t block, bool has_bias,
                                     const ConvPostOps& post) {
  const auto tag = block == 16 ? memory::format_tag::nCw16c : memory::format_tag::nCw8c;
  const auto blocked = [tag](const Shape& shape) {
    return memory::desc(onednn_dims(shape), memory::data_type::f32, tag);
  };
  const memory::desc src = blocked(src_shape);
  const memory::desc dst = blocked(dst_shape);
  plan.weights_plain = weights_desc_over_onnx(conv, memory::data_type::f32);
  plan.bias_plain = onednn_plain_desc({conv.out_channels});
  Chosen chosen;
  try {
    chosen = create_primitive(conv, src, any_desc(plan.weights_plain),
                              has_bias ? &plan.bias_plain : nullptr, dst, post);
  } catch (const dnnl::error&) {
    return false;
  }
  if (chosen.implementation.rfind("jit", 0) != 0 || chosen.src != src || chosen.dst != dst) {
    return false;
  }
  plan.primitive = chosen.primitive;
  plan.src_blocked = src;
  plan.dst_blocked = dst;
  plan.weights_desc = chosen.weights;
  plan.supported = true;
  return true;
}

// Plans the dilated conv as an undilated one over its time phases, when oneDNN then has a direct
// (jit) kernel for it; otherwise (e.g. long kernels, where it uses GEMM either way) returns false
// and the caller plans the ordinary way.
bool OnednnConv::plan_phases(Plan& plan, const PhaseSplit& split, bool has_bias) {
  const ConvGeometry& b = split.batched;
  if (!plan_direct_blocked(plan, b, {b.batch, b.in_channels, split.in_len},
                           {b.batch, b.out_channels, split.out_len}, 8, has_bias, plan.post)) {
    return false;
  }
  plan.split = split;
  return true;
}

// Plans the conv tile by tile when oneDNN has a direct (jit) kernel for one tile in the ISA's
// blocked layout; otherwise returns false and the caller plans it whole.
bool OnednnConv::plan_tiled(Plan& plan, const TileSplit& split, bool has_bias) {
  const ConvGeometry& c = split.per_tile;
  if (!plan_direct_blocked(plan, c, {1, c.in_channels, split.window},
                           {1, c.out_channels, split.tile}, split.block, has_bias, plan.post)) {
    return false;
  }
  plan.tiles = split;
  return true;
}

// Plans a ConvTranspose as its stacked sub-pixel conv when oneDNN has a direct (jit) kernel for
// that; otherwise returns false and the caller plans the deconvolution. The residual is not a
// sum post-op here: it is added while interleaving, which saves arranging it into phases first.
bool OnednnConv::plan_subpixel(Plan& plan, const ConvGeometry& g, const SubpixelSplit& split,
                               bool has_bias) {
  const ConvGeometry& c = split.stacked;
  ConvPostOps post = plan.post;
  post.sum = false;
  if (!plan_direct_blocked(plan, c, {1, c.in_channels, c.in[0]}, {1, c.out_channels, c.out[0]}, 8,
                           has_bias, post)) {
    return false;
  }
  plan.subpixel = split;
  plan.geometry = g;
  return true;
}

void OnednnConv::bind_weights(Plan& plan, const Tensor& w) {
  for (const auto& entry : packed_) {
    if (entry->source.raw() == w.raw() && entry->desc == plan.weights_desc) {
      plan.weights = entry->packed;
      plan.weights_source = w;
      return;
    }
  }
  // A buffer we have not seen: forget packings of buffers that are gone from the model (keeps
  // memory bounded when weights are computed at run time), then pack.
  std::erase_if(packed_, [&](const auto& entry) { return entry->source.raw() != w.raw(); });
  auto entry = std::make_unique<PackedWeights>();
  entry->source = w;
  entry->desc = plan.weights_desc;
  entry->packed = memory(plan.weights_desc, onednn_engine());
  // A sub-pixel plan's primitive takes the stacked weights: stack once, then pack as usual.
  Tensor source = w;
  if (plan.subpixel.valid) {
    const ConvGeometry& c = plan.subpixel.stacked;
    source = Tensor(DType::kFloat32, {c.out_channels, c.in_channels, c.kernel[0]});
    stack_subpixel_weights(plan.geometry, plan.subpixel, w.data<float>(), source.data<float>());
  }
  memory plain = onednn_wrap(plan.weights_plain, source);
  reorder_between(plan.weights_plain, plan.weights_desc)
      .execute(onednn_stream(), {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, entry->packed}});
  plan.weights = entry->packed;
  plan.weights_source = w;
  packed_.push_back(std::move(entry));
}

bool OnednnConv::mirrors_reflect_padding(const ConvGeometry& g, const Tensor& x, const Tensor& w,
                                         bool has_bias, const ConvPostOps& post) {
  return plan_for(g, x.shape(), w, has_bias, post, false)->tiles.valid;
}

bool OnednnConv::run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias,
                     Tensor& y) {
  return run(g, x, w, bias, ConvPostOps{}, nullptr, y);
}

bool OnednnConv::run(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor* bias,
                     const ConvPostOps& post, const Tensor* residual, Tensor& y) {
  if (post.sum != (residual != nullptr) || (residual && residual->shape() != y.shape())) {
    fail(ErrorCode::kInternal, "oneDNN conv: the sum post-op needs a residual of shape {}",
         shape_str(y.shape()));
  }
  // Where the input activation cannot ride along a packing step, X is activated into a copy.
  const auto activated = [&post](const Tensor& input) {
    Tensor copy = Tensor::uninitialized(DType::kFloat32, input.shape());
    apply_input_slope(input.data<float>(), copy.data<float>(), input.numel(), post.input_slope);
    return copy;
  };
  Plan* plan = plan_for(g, x.shape(), w, bias != nullptr, post, false);
  if (post.reflect_pad && !plan->tiles.valid) {
    fail(ErrorCode::kInternal,
         "oneDNN conv: only the tiled layout mirrors reflect padding; pad X first (ConvFastPath)");
  }
  if (!plan->supported) return false;
  if (plan->weights_source.raw() != w.raw()) bind_weights(*plan, w);
  if (plan->tiles.valid) {
    const float input_slope = post.input_activation ? post.input_slope : 1.0f;
    const TimePadding outside = post.reflect_pad ? TimePadding::kReflect : TimePadding::kZeros;
    const TileSplit& split = plan->tiles;
    run_tiled(
        *plan, g, bias,
        [&](int64_t t0, float* packed) {
          pack_window(x.data<float>(), g.in_channels, g.in[0], t0 - g.pad_begin[0], split.window,
                      split.block, packed, input_slope, outside);
        },
        residual ? [&](int64_t t0, float* packed) {
          pack_window(residual->data<float>(), g.out_channels, g.out[0], t0, split.tile,
                      split.block, packed);
        } : TilePacker(), y);
    return true;
  }
  if (plan->split.valid) {
    run_phases(*plan, g, x, bias, post.input_activation ? post.input_slope : 1.0f, residual, y);
    return true;
  }
  if (plan->subpixel.valid) {
    run_subpixel(*plan, x, bias, post.input_activation ? post.input_slope : 1.0f, residual, y);
    return true;
  }
  if (post.input_activation && plan->src_blocked.is_zero()) {
    ConvPostOps rest = post;
    rest.input_activation = false;
    rest.input_slope = 1.0f;
    return run(g, activated(x), w, bias, rest, residual, y);
  }
  dnnl::stream& stream = onednn_stream();
  const memory plain_src = onednn_wrap(plan->src_plain, x);
  const memory plain_dst = onednn_wrap(plan->dst_plain, y);
  memory src = plain_src, dst = plain_dst;
  if (!plan->src_blocked.is_zero()) {
    const auto& desc = plan->src_blocked;
    src = memory(desc, onednn_engine(), onednn_scratch(0, desc.get_size()));
    auto* blocked = static_cast<float*>(src.get_data_handle());
    if (post.input_activation && plan->src_ncw8c) {
      pack_phases(x.data<float>(), g.in_channels, g.in[0], 1, g.in[0], blocked, post.input_slope);
    } else {
      plan->src_reorder.execute(stream, {{DNNL_ARG_FROM, plain_src}, {DNNL_ARG_TO, src}});
      if (post.input_activation) {  // in place, on the blocked copy (its padding stays 0)
        stream.wait();
        apply_input_slope(blocked, blocked, static_cast<int64_t>(desc.get_size() / sizeof(float)),
                          post.input_slope);
      }
    }
  }
  if (!plan->dst_blocked.is_zero()) {
    const auto& desc = plan->dst_blocked;
    dst = memory(desc, onednn_engine(), onednn_scratch(1, desc.get_size()));
    if (residual) {
      plan->residual_reorder.execute(
          stream, {{DNNL_ARG_FROM, onednn_wrap(plan->dst_plain, *residual)}, {DNNL_ARG_TO, dst}});
    }
  } else if (residual) {
    // The sum post-op accumulates into dst, so dst starts as the residual.
    std::memcpy(y.raw(), residual->raw(), residual->nbytes());
  }
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst}};
  if (bias) args[DNNL_ARG_BIAS] = onednn_wrap(plan->bias_plain, *bias);
  plan->primitive.execute(stream, args);
  if (!plan->dst_blocked.is_zero()) {
    plan->dst_reorder.execute(stream, {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, plain_dst}});
  }
  stream.wait();
  return true;
}

void OnednnConv::run_phases(const Plan& plan, const ConvGeometry& g, const Tensor& x,
                            const Tensor* bias, float input_slope, const Tensor* residual,
                            Tensor& y) {
  const PhaseSplit& split = plan.split;
  const memory src(plan.src_blocked, onednn_engine(),
                   onednn_scratch(0, plan.src_blocked.get_size()));
  const memory dst(plan.dst_blocked, onednn_engine(),
                   onednn_scratch(1, plan.dst_blocked.get_size()));
  pack_phases(x.data<float>(), g.in_channels, g.in[0], split.phases, split.in_len,
              static_cast<float*>(src.get_data_handle()), input_slope);
  if (residual) {
    // The sum post-op accumulates into dst, so dst starts as the residual, in phases too.
    pack_phases(residual->data<float>(), g.out_channels, g.out[0], split.phases, split.out_len,
                static_cast<float*>(dst.get_data_handle()));
  }
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, dst}};
  if (bias) args[DNNL_ARG_BIAS] = onednn_wrap(plan.bias_plain, *bias);
  plan.primitive.execute(onednn_stream(), args);
  onednn_stream().wait();
  unpack_phases(static_cast<const float*>(dst.get_data_handle()), g.out_channels, g.out[0],
                split.phases, split.out_len, y.data<float>());
}

bool OnednnConv::run_pieces(const ConvGeometry& g, const std::vector<TimePiece>& x,
                            const Tensor& w, const Tensor* bias, const ConvPostOps& post,
                            const std::vector<TimePiece>* residual, Tensor& y) {
  if (post.sum != (residual != nullptr) || post.reflect_pad || g.batch != 1 ||
      g.spatial_rank != 1 || g.pad_begin[0] != 0 || g.pad_end[0] != 0) {
    return false;
  }
  Plan* plan = plan_for(g, {g.batch, g.in_channels, g.in[0]}, w, bias != nullptr, post, true);
  if (!plan->supported || !plan->tiles.valid) return false;
  if (plan->weights_source.raw() != w.raw()) bind_weights(*plan, w);
  const float input_slope = post.input_activation ? post.input_slope : 1.0f;
  const TileSplit& split = plan->tiles;
  run_tiled(
      *plan, g, bias,
      [&](int64_t t0, float* packed) {
        pack_window_pieces(x, g.in_channels, t0, split.window, split.block, packed, input_slope);
      },
      residual ? [&](int64_t t0, float* packed) {
        pack_window_pieces(*residual, g.out_channels, t0, split.tile, split.block, packed);
      } : TilePacker(), y);
  return true;
}

void OnednnConv::run_tiled(const Plan& plan, const ConvGeometry& g, const Tensor* bias,
                           const TilePacker& pack_x, const TilePacker& pack_residual, Tensor& y) {
  const TileSplit& split = plan.tiles;
  const memory bias_memory = bias ? onednn_wrap(plan.bias_plain, *bias) : memory();
  const int64_t out_channels = g.out_channels, out_len = g.out[0];
  // One tile's pack, conv and unpack on the calling thread's buffers and stream; false where the
  // primitive failed.
  const auto run_tile = [&](int64_t tile) {
    const int64_t t0 = tile * split.tile;
    const memory src(plan.src_blocked, onednn_engine(),
                     onednn_scratch(0, plan.src_blocked.get_size()));
    const memory dst(plan.dst_blocked, onednn_engine(),
                     onednn_scratch(1, plan.dst_blocked.get_size()));
    auto* dst_data = static_cast<float*>(dst.get_data_handle());
    pack_x(t0, static_cast<float*>(src.get_data_handle()));
    // the sum post-op accumulates into dst, so dst starts as the residual
    if (pack_residual) pack_residual(t0, dst_data);
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, dst}};
    if (bias) args[DNNL_ARG_BIAS] = bias_memory;
    try {
      plan.primitive.execute(onednn_stream(), args);
      onednn_stream().wait();
    } catch (const dnnl::error&) {
      return false;
    }
    unpack_window(dst_data, out_channels, out_len, t0, split.tile, split.block, y.data<float>());
    return true;
  };
  bool failed = false;
  if (split.tiles == 1) {
    // No parallel region at all: inside even an inactive one (`if` false), oneDNN's own
    // threading would start a nested team on every call, which costs milliseconds.
    failed = !run_tile(0);
  } else {
    // Each thread runs whole tiles; oneDNN sees it is inside a parallel region and runs the
    // primitive on the calling thread only.
#pragma omp parallel for schedule(static)
    for (int64_t tile = 0; tile < split.tiles; ++tile) {
      if (!run_tile(tile)) {
#pragma omp atomic write
        failed = true;
      }
    }
  }
  if (failed) fail(ErrorCode::kInternal, "oneDNN conv: a tile's primitive failed to run");
}

void OnednnConv::run_subpixel(const Plan& plan, const Tensor& x, const Tensor* bias,
                              float input_slope, const Tensor* residual, Tensor& y) {
  const ConvGeometry& g = plan.geometry;
  const memory src(plan.src_blocked, onednn_engine(),
                   onednn_scratch(0, plan.src_blocked.get_size()));
  const memory dst(plan.dst_blocked, onednn_engine(),
                   onednn_scratch(1, plan.dst_blocked.get_size()));
  pack_phases(x.data<float>(), g.in_channels, g.in[0], 1, g.in[0],
              static_cast<float*>(src.get_data_handle()), input_slope);
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, dst}};
  // The bias may change between runs (it is an input), and stacking it is C_out*s copies.
  std::vector<float> stacked_bias;
  if (bias) {
    stacked_bias.resize(plan.subpixel.stacked.out_channels);
    stack_subpixel_bias(g, plan.subpixel, bias->data<float>(), stacked_bias.data());
    args[DNNL_ARG_BIAS] = memory(plan.bias_plain, onednn_engine(), stacked_bias.data());
  }
  plan.primitive.execute(onednn_stream(), args);
  onednn_stream().wait();
  interleave_subpixel(g, plan.subpixel, static_cast<const float*>(dst.get_data_handle()),
                      residual ? residual->data<float>() : nullptr, y.data<float>());
}

// Weights as oneDNN sees them: [G, OC/G, IC/G, k...] when grouped, [OC, IC, k...] otherwise,
// described over ONNX's buffer with explicit strides. ConvTranspose stores [IC, OC/G, k...],
// i.e. the input-channel axis is outermost, hence the different strides.
memory::desc weights_desc_over_onnx(const ConvGeometry& g, memory::data_type type) {
  int64_t k_size = 1;
  for (int64_t k : g.kernel) k_size *= k;
  const int64_t oc_g = g.out_channels_per_group(), ic_g = g.in_channels_per_group();
  memory::dims dims, strides;
  if (g.group > 1) dims.push_back(g.group);
  dims.push_back(oc_g);
  dims.push_back(ic_g);
  if (g.transpose) {
    if (g.group > 1) strides.push_back(ic_g * oc_g * k_size);
    strides.push_back(k_size);
    strides.push_back(oc_g * k_size);
  } else {
    if (g.group > 1) strides.push_back(oc_g * ic_g * k_size);
    strides.push_back(ic_g * k_size);
    strides.push_back(k_size);
  }
  int64_t inner = k_size;
  for (int64_t k : g.kernel) {
    dims.push_back(k);
    inner /= k;
    strides.push_back(inner);
  }
  return memory::desc(dims, type, strides);
}

// oneDNN 2.6 has no direct depthwise kernel for 1-D on AVX2 and falls back to one tiny GEMM
// per channel (~10x slower); the same problem as 2-D with a height of 1 gets its jit depthwise
// kernel. The lift changes only descriptors: the buffers are identical.
ConvGeometry lift_depthwise_1d(const ConvGeometry& g) {
  if (g.spatial_rank != 1 || g.group == 1 || g.in_channels_per_group() != 1) return g;
  ConvGeometry lifted = g;
  lifted.spatial_rank = 2;
  auto prepend = [](std::vector<int64_t>& v, int64_t value) { v.insert(v.begin(), value); };
  prepend(lifted.in, 1);
  prepend(lifted.kernel, 1);
  prepend(lifted.out, 1);
  prepend(lifted.strides, 1);
  prepend(lifted.dilations, 1);
  prepend(lifted.pad_begin, 0);
  prepend(lifted.pad_end, 0);
  return lifted;
}

dnnl::primitive_attr conv_post_ops_attr(const ConvPostOps& post, const dnnl::post_ops& first) {
  return post_ops_attr(post, first);
}

}  // namespace amphora
