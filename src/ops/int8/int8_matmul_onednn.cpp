#include "ops/int8/int8_matmul_onednn.hpp"

#include <unordered_map>

#include "ops/onednn.hpp"

namespace amphora {

using dnnl::memory;

struct OnednnInt8Matmul::Plan {
  bool supported = false;
  dnnl::primitive primitive;
  memory::desc src, dst, bias, weights_desc, scales_desc;
  std::vector<float> scales, scaled_bias;
};

struct OnednnInt8Matmul::Weights {
  Tensor source;  // held so that its address cannot be reused by another buffer
  memory::desc desc;
  memory packed;
  std::vector<float> column_sums;  // of the int8 B, for the dynamic zero point
};

OnednnInt8Matmul::OnednnInt8Matmul() = default;
OnednnInt8Matmul::~OnednnInt8Matmul() = default;

bool OnednnInt8Matmul::run(int64_t m, int64_t k, int64_t n, const Tensor& a, const Tensor& b,
                           const Int8Scales& scales, const Quantizer& quant, const Tensor* bias,
                           bool gelu, bool sum, Tensor& out) {
  if (scales.dynamic && quant.scale == 0.0f) return false;
  Plan* plan = plan_for(m, k, n, scales, bias != nullptr, gelu, sum);
  if (!plan->supported) return false;
  if (!weights_) weights_ = std::make_unique<Weights>();
  Weights& w = *weights_;
  if (w.source.raw() != b.raw() || !(w.desc == plan->weights_desc)) {
    w.source = b;
    w.desc = plan->weights_desc;
    w.packed = memory(plan->weights_desc, onednn_engine());
    memory plain(memory::desc({k, n}, memory::data_type::s8, memory::format_tag::ab),
                 onednn_engine(), const_cast<void*>(b.raw()));
    dnnl::reorder(plain, w.packed).execute(onednn_stream(), plain, w.packed);
    w.column_sums.assign(n, 0.0f);
    for (int64_t r = 0; r < k; ++r) {
      for (int64_t j = 0; j < n; ++j) w.column_sums[j] += b.data<int8_t>()[r * n + j];
    }
  }
  const memory src(plan->src, onednn_engine(), onednn_scratch(0, plan->src.get_size()));
  quantize_dense(a.data<float>(), m * k, quant, static_cast<uint8_t*>(src.get_data_handle()));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_WEIGHTS, w.packed},
                                       {DNNL_ARG_DST, onednn_wrap(plan->dst, out)}};
  if (scales.dynamic) {
    for (int64_t j = 0; j < n; ++j) plan->scales[j] = quant.scale * scales.w(j);
    args[DNNL_ARG_ATTR_OUTPUT_SCALES] =
        memory(plan->scales_desc, onednn_engine(), plan->scales.data());
  }
  if (bias || scales.dynamic) {  // oneDNN 2.x adds the bias before the output scales
    plan->scaled_bias.resize(n);
    for (int64_t j = 0; j < n; ++j) {
      plan->scaled_bias[j] = (bias ? bias->data<float>()[j] / plan->scales[j] : 0.0f) -
                             (scales.dynamic ? quant.zero_point * w.column_sums[j] : 0.0f);
    }
    args[DNNL_ARG_BIAS] = memory(plan->bias, onednn_engine(), plan->scaled_bias.data());
  }
  plan->primitive.execute(onednn_stream(), args);
  onednn_stream().wait();
  return true;
}

OnednnInt8Matmul::Plan* OnednnInt8Matmul::plan_for(int64_t m, int64_t k, int64_t n,
                                                   const Int8Scales& scales, bool has_bias,
                                                   bool gelu, bool sum) {
  if (scales.dynamic) has_bias = true;  // it carries the zero point's correction
  const std::vector<int64_t> key = {m, k, n, has_bias, gelu, sum};
  if (auto it = plans_.find(key); it != plans_.end()) return it->second.get();
  if (plans_.size() >= kMaxPlans) plans_.clear();  // streaming chunk lengths vary
  auto& plan = plans_[key];
  plan = std::make_unique<Plan>();
  plan->src = memory::desc({m, k}, scales.dynamic ? memory::data_type::u8 : memory::data_type::s8,
                           memory::format_tag::ab);
  plan->dst = memory::desc({m, n}, memory::data_type::f32, memory::format_tag::ab);
  plan->bias = memory::desc({1, n}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc weights_any({k, n}, memory::data_type::s8, memory::format_tag::any);
  plan->scales.resize(n);
  for (int64_t j = 0; j < n; ++j) plan->scales[j] = scales.x_scale * scales.w(j);
  dnnl::post_ops ops;
  if (gelu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
  if (sum) ops.append_sum(1.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  if (scales.dynamic) {
    attr.set_output_scales(1 << 1, {DNNL_RUNTIME_F32_VAL});  // per column, per run
    plan->scales_desc = memory::desc({n}, memory::data_type::f32, memory::format_tag::a);
  } else {
    attr.set_output_scales(1 << 1, plan->scales);  // per column of dst
  }
  try {
    const auto d = has_bias ? dnnl::matmul::desc(plan->src, weights_any, plan->bias, plan->dst)
                            : dnnl::matmul::desc(plan->src, weights_any, plan->dst);
    const dnnl::matmul::primitive_desc pd(d, attr, onednn_engine());
    plan->primitive = dnnl::matmul(pd);
    plan->weights_desc = pd.weights_desc();
  } catch (const dnnl::error&) {
    return plan.get();  // the caller runs the reference
  }
  plan->supported = true;
  return plan.get();
}

}  // namespace amphora
