// The int8 FusedMatMul kernel (int8.hpp): Y = activation(A x B + bias) + Sum with B [K, N]
// int8 and A quantized to int8 on the way in. Fast path: A quantized row by row (A [..., K] is
// already the [M, K] layout the primitive reads), one oneDNN s8 x s8 -> s32 matmul with output
// scales x_scale * w_scale[n], bias, GELU (erf) and the residual as post-ops, B reordered once per
// buffer. Reference: A fake-quantized and B dequantized, then matmul_reference and the same
// element-wise steps as the float FusedMatMul.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "ops/int8/int8.hpp"
#include "ops/int8/int8_quantize.hpp"
#include "ops/matmul/matmul_problem.hpp"
#include "ops/onednn.hpp"

namespace amphora {
namespace {

using dnnl::memory;

class OnednnInt8Matmul {
 public:
  // out [m, n] from float a [m, k] and int8 b [k, n]; `residual` already copied into out when
  // `sum`. Returns false, having written nothing, when oneDNN cannot run it.
  // `quant` quantizes A: int8, or uint8 with a zero point (scales.dynamic), which is taken out
  // through the bias: sum_k (q - zp) b = sum_k q b - zp * column_sums[n].
  bool run(int64_t m, int64_t k, int64_t n, const Tensor& a, const Tensor& b,
           const Int8Scales& scales, const Quantizer& quant, const Tensor* bias, bool gelu,
           bool sum, Tensor& out) {
    if (scales.dynamic && quant.scale == 0.0f) return false;
    Plan* plan = plan_for(m, k, n, scales, bias != nullptr, gelu, sum);
    if (!plan->supported) return false;
    if (weights_source_.raw() != b.raw() || !(weights_desc_ == plan->weights_desc)) {
      weights_source_ = b;
      weights_desc_ = plan->weights_desc;
      weights_ = memory(plan->weights_desc, onednn_engine());
      memory plain(memory::desc({k, n}, memory::data_type::s8, memory::format_tag::ab),
                   onednn_engine(), const_cast<void*>(b.raw()));
      dnnl::reorder(plain, weights_).execute(onednn_stream(), plain, weights_);
      column_sums_.assign(n, 0.0f);
      for (int64_t r = 0; r < k; ++r) {
        for (int64_t j = 0; j < n; ++j) column_sums_[j] += b.data<int8_t>()[r * n + j];
      }
    }
    const memory src(plan->src, onednn_engine(), onednn_scratch(0, plan->src.get_size()));
    quantize_dense(a.data<float>(), m * k, quant, static_cast<uint8_t*>(src.get_data_handle()));
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_WEIGHTS, weights_},
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
                               (scales.dynamic ? quant.zero_point * column_sums_[j] : 0.0f);
      }
      args[DNNL_ARG_BIAS] = memory(plan->bias, onednn_engine(), plan->scaled_bias.data());
    }
    plan->primitive.execute(onednn_stream(), args);
    onednn_stream().wait();
    return true;
  }

 private:
  struct Plan {
    bool supported = false;
    dnnl::primitive primitive;
    memory::desc src, dst, bias, weights_desc, scales_desc;
    std::vector<float> scales, scaled_bias;
  };

  Plan* plan_for(int64_t m, int64_t k, int64_t n, const Int8Scales& scales, bool has_bias,
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

  static constexpr size_t kMaxPlans = 32;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;
  Tensor weights_source_;  // held so that its address cannot be reused by another buffer
  memory::desc weights_desc_;
  memory weights_;
  std::vector<float> column_sums_;  // of the int8 B, for the dynamic zero point
};

class Int8MatMulKernel : public Kernel {
 public:
  Int8MatMulKernel(const Node& node, const KernelOptions& options)
      : node_(node), scales_(parse_int8_scales(node)), reference_(options.reference) {
    const std::string activation = node.get_string("activation", "");
    if (!activation.empty() && activation != "Gelu") {
      fail(ErrorCode::kInvalidModel, "{}: activation '{}' is not one FusedMatMul supports (Gelu)",
           node.display_name(), activation);
    }
    gelu_ = activation == "Gelu";
  }

  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) override {
    check_input_count(node_, inputs, 2, 4);
    const Tensor& a = *inputs[0];
    const Tensor& b = *inputs[1];
    const Tensor* bias = inputs.size() > 2 ? inputs[2] : nullptr;
    const Tensor* sum = inputs.size() > 3 ? inputs[3] : nullptr;
    if (a.dtype() != DType::kFloat32 || a.rank() < 1 || b.rank() != 2 || a.dim(-1) != b.dim(0)) {
      fail(ErrorCode::kInvalidArgument,
           "{}: an int8 FusedMatMul takes float A [..., K] and B [K, N], got A {} {} and B {}",
           node_.display_name(), dtype_name(a.dtype()), shape_str(a.shape()), shape_str(b.shape()));
    }
    const int64_t k = b.dim(0), n = b.dim(1), m = k == 0 ? 0 : a.numel() / k;
    check_int8_weights(node_, scales_, b, n);
    Shape result = a.shape();
    result.back() = n;
    if (bias && (bias->dtype() != DType::kFloat32 || bias->numel() != n)) {
      fail(ErrorCode::kInvalidArgument, "{}: the bias must be {} float32 values, got {} {}",
           node_.display_name(), n, dtype_name(bias->dtype()), shape_str(bias->shape()));
    }
    if (sum && (sum->dtype() != DType::kFloat32 || sum->shape() != result)) {
      fail(ErrorCode::kInvalidArgument, "{}: Sum must be float32 shaped like the output {}, got {}",
           node_.display_name(), shape_str(result), shape_str(sum->shape()));
    }
    Tensor out = Tensor::uninitialized(DType::kFloat32, result);
    if (out.numel() == 0) return {out};
    if (sum) std::copy_n(sum->data<float>(), out.numel(), out.data<float>());
    const Quantizer quant = scales_.dynamic ? Quantizer::dynamic(a.data<float>(), a.numel(), 1.0f)
                                            : Quantizer::int8(1.0f, scales_.x_scale);
    if (reference_ || k == 0 ||
        !fast_.run(m, k, n, a, b, scales_, quant, bias, gelu_, sum != nullptr, out)) {
      run_reference(m, k, n, a, b, quant, bias, sum, out);
    }
    return {out};
  }

 private:
  void run_reference(int64_t m, int64_t k, int64_t n, const Tensor& a, const Tensor& b,
                     const Quantizer& quant, const Tensor* bias, const Tensor* sum,
                     Tensor& out) const {
    Tensor fa = a.clone();
    fake_quantize(fa.data<float>(), fa.numel(), quant);
    Tensor fb(DType::kFloat32, b.shape());
    for (int64_t r = 0; r < k; ++r) {
      for (int64_t j = 0; j < n; ++j) {
        fb.data<float>()[r * n + j] =
            static_cast<float>(b.data<int8_t>()[r * n + j]) * scales_.w(j);
      }
    }
    MatmulProblem p;
    p.a = {m, k};
    p.b = {k, n};
    p.out = {m, n};
    p.m = m;
    p.k = k;
    p.n = n;
    matmul_reference(p, fa.data<float>(), fb.data<float>(), out.data<float>());
    float* y = out.data<float>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      float v = y[i] + (bias ? bias->data<float>()[i % n] : 0.0f);
      if (gelu_) v = 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f)));
      y[i] = v + (sum ? sum->data<float>()[i] : 0.0f);
    }
  }

  Node node_;
  Int8Scales scales_;
  bool gelu_ = false;
  bool reference_;
  OnednnInt8Matmul fast_;
};

}  // namespace

std::unique_ptr<Kernel> make_int8_matmul_kernel(const Node& node, const KernelOptions& options) {
  return std::make_unique<Int8MatMulKernel>(node, options);
}

}  // namespace amphora
