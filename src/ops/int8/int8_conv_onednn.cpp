#include "ops/int8/int8_conv_onednn.hpp"

#include <algorithm>
#include <unordered_map>

#include "ops/conv/conv_onednn_desc.hpp"
#include "ops/conv/deconv_subpixel.hpp"
#include "ops/int8/int8_quantize.hpp"
#include "ops/onednn.hpp"

namespace amphora {

using dnnl::memory;

struct OnednnInt8Conv::Plan {
  bool supported = false;
  dnnl::primitive primitive;
  // src: s8 (u8 when dynamic) channels-last, dst: f32 channels-last (the int8 kernels'
  // layouts); dst_plain: y.
  memory::desc src, dst, dst_plain, bias, weights_plain, weights_desc;
  dnnl::primitive dst_reorder, residual_reorder;
  // Conv padding, written into the quantized copy of X (zeros or mirrored) so that the
  // primitive runs unpadded: one code path for both padding modes.
  int64_t pad_begin = 0, pad_end = 0;
  std::vector<float> scales;       // x_scale * w_scale[c], the output scales
  std::vector<float> scaled_bias;  // bias / scales: oneDNN 2.x adds the bias before scaling
  // Dynamic quantization: uint8 X with a zero point zp and a scale known per run only. oneDNN
  // 2.6 convs take no run-time output scales, so the output scales are w_scale alone and X's
  // scale is a binary multiply post-op by a run-time scalar (before the activation); the zero
  // point is taken out through the bias: with the padding materialised as zp, every output
  // sums all of its channel's weights, so sum (q - zp) w = sum q w - zp * weight_sums[c].
  bool dynamic = false;
  memory::desc scalar_desc;
  float x_scale = 1.0f;  // the run's scale, read by the post-op
  std::vector<float> weight_sums;
  // A strided ConvTranspose runs as its stacked sub-pixel conv (deconv_subpixel.hpp): oneDNN's
  // int8 deconvolution is 2-4x slower than the float sub-pixel conv. `geometry` is the
  // ConvTranspose's; the stacked output (nwc) is interleaved into y with the residual added.
  SubpixelSplit subpixel;
  ConvGeometry geometry;
  memory weights;
  Tensor weights_source;  // held so that its address cannot be reused by another buffer
};

struct OnednnInt8Conv::PackedWeights {
  Tensor source;  // keeps the source buffer alive, so its address identifies it
  memory::desc desc;
  memory packed;
  std::vector<float> weight_sums;  // per output channel of the primitive
};

bool int8_kernels_exact() { return onednn_has_vnni(); }

OnednnInt8Conv::OnednnInt8Conv() = default;
OnednnInt8Conv::~OnednnInt8Conv() = default;

namespace {

memory::dims activation_dims(int64_t batch, int64_t channels, const std::vector<int64_t>& spatial) {
  memory::dims dims = {batch, channels};
  dims.insert(dims.end(), spatial.begin(), spatial.end());
  return dims;
}

memory::format_tag channels_last(size_t rank) {
  return rank == 3 ? memory::format_tag::nwc : memory::format_tag::nhwc;
}

memory::format_tag channels_first(size_t rank) {
  return rank == 3 ? memory::format_tag::ncw : memory::format_tag::nchw;
}

// The first implementation oneDNN offers that is neither a reference loop nor a brgemm kernel
// (whose primitive creation grows with the time axis in oneDNN 2.6, as conv_onednn.cpp says);
// those only when nothing else applies.
template <typename PrimitiveDesc>
PrimitiveDesc choose(const PrimitiveDesc& first) {
  PrimitiveDesc pd = first;
  do {
    const std::string impl = pd.impl_info_str();
    if (impl.find("brg") == std::string::npos && impl.find("ref") == std::string::npos) return pd;
  } while (pd.next_impl());
  return first;
}

// The stacked sub-pixel conv's output, nwc [steps, C_out*s] (stacked channel o*s + p), -> y
// [C_out, T_out]: step n's s phases of channel o are s consecutive floats, which land at
// y[o, origin + n*s + p] (cropped to [0, T_out)), plus the residual.
void interleave_nwc(const ConvGeometry& g, const SubpixelSplit& split, const float* stacked,
                    const float* residual, float* y) {
  const int64_t s = split.stride, steps = split.steps, length = g.out[0];
  const int64_t width = g.out_channels * s;
  const int64_t origin = split.first_step * s - g.pad_begin[0];  // t of step 0, phase 0
#pragma omp parallel for schedule(static) if (width * steps > 65536)
  for (int64_t o = 0; o < g.out_channels; ++o) {
    float* row = y + o * length;
    const float* res = residual ? residual + o * length : nullptr;
    for (int64_t n = 0; n < steps; ++n) {
      const int64_t t0 = origin + n * s;
      const int64_t p_begin = std::max<int64_t>(0, -t0), p_end = std::min(s, length - t0);
      const float* from = stacked + n * width + o * s;
      if (res) {
        for (int64_t p = p_begin; p < p_end; ++p) row[t0 + p] = from[p] + res[t0 + p];
      } else {
        for (int64_t p = p_begin; p < p_end; ++p) row[t0 + p] = from[p];
      }
    }
  }
}

dnnl::reorder reorder_between(const memory::desc& from, const memory::desc& to) {
  return dnnl::reorder(dnnl::reorder::primitive_desc(onednn_engine(), from, onednn_engine(), to));
}

}  // namespace

OnednnInt8Conv::Plan* OnednnInt8Conv::plan_for(const ConvGeometry& g, const Int8Scales& scales,
                                               bool has_bias, const ConvPostOps& post) {
  if (scales.dynamic) has_bias = true;  // it carries the zero point's correction
  std::vector<int64_t> key = {g.batch,  g.in_channels,    g.out_channels,
                              g.group,  g.transpose,      has_bias,
                              post.sum, post.reflect_pad, static_cast<int64_t>(post.activation)};
  for (const auto* v :
       {&g.in, &g.kernel, &g.out, &g.strides, &g.dilations, &g.pad_begin, &g.pad_end}) {
    key.insert(key.end(), v->begin(), v->end());
  }
  if (auto it = plans_.find(key); it != plans_.end()) return it->second.get();
  // Streaming with ever-changing chunk lengths must not grow the cache without bound.
  if (plans_.size() >= kMaxPlans) plans_.clear();
  auto& slot = plans_[key];
  slot = std::make_unique<Plan>();
  Plan& plan = *slot;
  if (g.spatial_rank != 1) return &plan;
  ConvGeometry c = g;
  ConvPostOps primitive_post = post;
  int64_t phases = 1;  // output channels per scale: the sub-pixel stack's s phases
  if (g.transpose && (plan.subpixel = split_subpixel(g)).valid) {
    plan.geometry = g;
    c = plan.subpixel.stacked;
    phases = plan.subpixel.stride;
    primitive_post.sum = false;  // added while interleaving
  }
  plan.dynamic = scales.dynamic;
  if (plan.dynamic && c.transpose) return &plan;  // oneDNN pads a deconvolution itself
  if (!c.transpose) {
    plan.pad_begin = c.pad_begin[0];
    plan.pad_end = c.pad_end[0];
    // A negative end padding (a sub-pixel stack's unused last inputs) drops input steps.
    if (plan.pad_begin < 0 || (plan.pad_end < 0 && !plan.subpixel.valid)) return &plan;
    c.in[0] += plan.pad_begin + plan.pad_end;
    c.pad_begin[0] = c.pad_end[0] = 0;
  } else if (post.reflect_pad) {
    return &plan;
  }
  const ConvGeometry lifted = lift_depthwise_1d(c);
  const size_t rank = lifted.spatial_rank + 2;
  const memory::dims src_dims = activation_dims(c.batch, c.in_channels, lifted.in);
  const memory::dims dst_dims = activation_dims(c.batch, c.out_channels, lifted.out);
  plan.src = memory::desc(src_dims, plan.dynamic ? memory::data_type::u8 : memory::data_type::s8,
                          channels_last(rank));
  plan.dst = memory::desc(dst_dims, memory::data_type::f32, channels_last(rank));
  plan.dst_plain = memory::desc(dst_dims, memory::data_type::f32, channels_first(rank));
  plan.bias = memory::desc({c.out_channels}, memory::data_type::f32, memory::format_tag::a);
  plan.weights_plain = weights_desc_over_onnx(lifted, memory::data_type::s8);
  const memory::desc weights_any(plan.weights_plain.dims(), memory::data_type::s8,
                                 memory::format_tag::any);
  memory::dims strides(lifted.strides.begin(), lifted.strides.end());
  memory::dims dilations(lifted.spatial_rank), pad_l(lifted.spatial_rank),
      pad_r(lifted.spatial_rank);
  for (size_t i = 0; i < lifted.spatial_rank; ++i) {
    dilations[i] = lifted.dilations[i] - 1;  // oneDNN counts the holes, ONNX the step
    const int64_t span = (lifted.kernel[i] - 1) * lifted.dilations[i] + 1;
    pad_l[i] = lifted.pad_begin[i];
    // Right padding that reproduces ONNX's output size exactly (for ConvTranspose it absorbs
    // output_padding).
    pad_r[i] =
        lifted.transpose
            ? (lifted.in[i] - 1) * lifted.strides[i] + span - lifted.pad_begin[i] - lifted.out[i]
            : (lifted.out[i] - 1) * lifted.strides[i] + span - lifted.in[i] - lifted.pad_begin[i];
    if (pad_l[i] < 0) return &plan;  // a ConvTranspose cropping by output_shape: reference
  }
  plan.scales.resize(c.out_channels);
  for (int64_t ch = 0; ch < c.out_channels; ++ch) {
    plan.scales[ch] = (plan.dynamic ? 1.0f : scales.x_scale) * scales.w(ch / phases);
  }
  dnnl::post_ops first;
  if (plan.dynamic) {
    plan.scalar_desc = memory::desc(memory::dims(rank, 1), memory::data_type::f32,
                                    rank == 3 ? memory::format_tag::abc : memory::format_tag::abcd);
    first.append_binary(dnnl::algorithm::binary_mul, plan.scalar_desc);
  }
  dnnl::primitive_attr attr = conv_post_ops_attr(primitive_post, first);
  attr.set_output_scales(1 << 1, plan.scales);  // per output channel (axis 1 of dst)
  const auto prop = dnnl::prop_kind::forward_inference;
  try {
    if (c.transpose) {
      using Deconv = dnnl::deconvolution_forward;
      const auto algo = dnnl::algorithm::deconvolution_direct;
      auto d = has_bias ? Deconv::desc(prop, algo, plan.src, weights_any, plan.bias, plan.dst,
                                       strides, dilations, pad_l, pad_r)
                        : Deconv::desc(prop, algo, plan.src, weights_any, plan.dst, strides,
                                       dilations, pad_l, pad_r);
      const auto pd = choose(Deconv::primitive_desc(d, attr, onednn_engine()));
      plan.primitive = Deconv(pd);
      plan.weights_desc = pd.weights_desc();
      implementation_ = pd.impl_info_str();
    } else {
      using Conv = dnnl::convolution_forward;
      const auto algo = dnnl::algorithm::convolution_direct;
      auto d = has_bias ? Conv::desc(prop, algo, plan.src, weights_any, plan.bias, plan.dst,
                                     strides, dilations, pad_l, pad_r)
                        : Conv::desc(prop, algo, plan.src, weights_any, plan.dst, strides,
                                     dilations, pad_l, pad_r);
      const auto pd = choose(Conv::primitive_desc(d, attr, onednn_engine()));
      plan.primitive = Conv(pd);
      plan.weights_desc = pd.weights_desc();
      implementation_ = pd.impl_info_str();
    }
    if (!plan.subpixel.valid) plan.dst_reorder = reorder_between(plan.dst, plan.dst_plain);
    if (primitive_post.sum) plan.residual_reorder = reorder_between(plan.dst_plain, plan.dst);
  } catch (const dnnl::error&) {
    return &plan;  // no int8 implementation for this problem: the caller runs the reference
  }
  plan.supported = true;
  return &plan;
}

void OnednnInt8Conv::bind_weights(Plan& plan, const Tensor& w) {
  for (const auto& entry : packed_) {
    if (entry->source.raw() == w.raw() && entry->desc == plan.weights_desc) {
      plan.weights = entry->packed;
      plan.weight_sums = entry->weight_sums;
      plan.weights_source = w;
      return;
    }
  }
  // A buffer we have not seen: forget packings of buffers that are gone from the model, then
  // pack (the reorder also computes oneDNN's compensation for signed int8 inputs).
  std::erase_if(packed_, [&](const auto& entry) { return entry->source.raw() != w.raw(); });
  auto entry = std::make_unique<PackedWeights>();
  entry->source = w;
  entry->desc = plan.weights_desc;
  entry->packed = memory(plan.weights_desc, onednn_engine());
  Tensor source = w;
  if (plan.subpixel.valid) {  // the stacked conv's weights [C_out*s, C_in, M]
    const ConvGeometry& stacked = plan.subpixel.stacked;
    source = Tensor(DType::kInt8, {stacked.out_channels, stacked.in_channels, stacked.kernel[0]});
    stack_subpixel_weights(plan.geometry, plan.subpixel, w.data<int8_t>(), source.data<int8_t>());
  }
  entry->weight_sums.assign(source.dim(0), 0.0f);
  const int64_t per_channel = source.numel() / source.dim(0);
  for (int64_t c = 0; c < source.dim(0); ++c) {
    int64_t sum = 0;
    for (int64_t i = 0; i < per_channel; ++i) sum += source.data<int8_t>()[c * per_channel + i];
    entry->weight_sums[c] = static_cast<float>(sum);
  }
  const memory plain(plan.weights_plain, onednn_engine(), const_cast<void*>(source.raw()));
  reorder_between(plan.weights_plain, plan.weights_desc)
      .execute(onednn_stream(), {{DNNL_ARG_FROM, plain}, {DNNL_ARG_TO, entry->packed}});
  onednn_stream().wait();
  plan.weights = entry->packed;
  plan.weight_sums = entry->weight_sums;
  plan.weights_source = w;
  packed_.push_back(std::move(entry));
}

bool OnednnInt8Conv::run(const ConvGeometry& g, const Tensor& x, const Tensor& w,
                         const Int8Scales& scales, const Quantizer& quant, const Tensor* bias,
                         const ConvPostOps& post, const Tensor* residual, Tensor& y) {
  Plan* plan = plan_for(g, scales, bias != nullptr, post);
  if (!plan->supported || (plan->dynamic && quant.scale == 0.0f)) return false;
  if (plan->weights_source.raw() != w.raw()) bind_weights(*plan, w);
  dnnl::stream& stream = onednn_stream();
  const memory src(plan->src, onednn_engine(), onednn_scratch(0, plan->src.get_size()));
  quantize_ncw_to_nwc(x.data<float>(), g.batch, g.in_channels, g.in[0], plan->pad_begin,
                      plan->pad_end, post.reflect_pad ? Int8Padding::kReflect : Int8Padding::kZeros,
                      quant, static_cast<uint8_t*>(src.get_data_handle()));
  const memory dst(plan->dst, onednn_engine(), onednn_scratch(1, plan->dst.get_size()));
  if (residual && !plan->subpixel.valid) {  // the sum post-op accumulates into dst
    plan->residual_reorder.execute(
        stream, {{DNNL_ARG_FROM, onednn_wrap(plan->dst_plain, *residual)}, {DNNL_ARG_TO, dst}});
  }
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan->weights}, {DNNL_ARG_DST, dst}};
  const size_t phases = plan->subpixel.valid ? plan->subpixel.stride : 1;
  const float x_scale = plan->dynamic ? quant.scale : 1.0f;  // not in the output scales
  if (plan->dynamic) {
    plan->x_scale = quant.scale;
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] =
        memory(plan->scalar_desc, onednn_engine(), &plan->x_scale);
  }
  if (bias || plan->dynamic) {
    plan->scaled_bias.resize(plan->scales.size());
    const float* b = bias ? bias->data<float>() : nullptr;
    for (size_t c = 0; c < plan->scales.size(); ++c) {
      plan->scaled_bias[c] = (b ? b[c / phases] / (x_scale * plan->scales[c]) : 0.0f) -
                             (plan->dynamic ? quant.zero_point * plan->weight_sums[c] : 0.0f);
    }
    args[DNNL_ARG_BIAS] = memory(plan->bias, onednn_engine(), plan->scaled_bias.data());
  }
  plan->primitive.execute(stream, args);
  if (plan->subpixel.valid) {
    stream.wait();
    interleave_nwc(plan->geometry, plan->subpixel, static_cast<const float*>(dst.get_data_handle()),
                   residual ? residual->data<float>() : nullptr, y.data<float>());
    return true;
  }
  plan->dst_reorder.execute(stream,
                            {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, onednn_wrap(plan->dst_plain, y)}});
  stream.wait();
  return true;
}

}  // namespace amphora
