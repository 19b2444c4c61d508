// The int8 FusedMatMul kernel (int8.hpp): Y = activation(A x B + bias) + Sum with B [K, N]
// int8 and A quantized on the way in. Fast path: oneDNN's int8 matmul (int8_matmul_onednn.hpp)
// where it is exact (VNNI), the float matmul on the same quantized values elsewhere. Reference:
// A fake-quantized and B dequantized, then matmul_reference and the same element-wise steps as
// the float FusedMatMul.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "ops/int8/int8.hpp"
#include "ops/int8/int8_matmul_onednn.hpp"
#include "ops/int8/int8_quantize.hpp"
#include "ops/matmul/matmul_onednn.hpp"
#include "ops/matmul/matmul_problem.hpp"

namespace amphora {
namespace {

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
    if (reference_ || k == 0 || !run_fast(m, k, n, a, b, quant, bias, sum, out)) {
      run_reference(m, k, n, a, b, quant, bias, sum, out);
    }
    return {out};
  }

 private:
  // oneDNN's int8 matmul where the CPU has VNNI; elsewhere (its int8 kernels would saturate) the
  // float one on the same quantized values: A fake-quantized, B dequantized once. `out` holds
  // the residual already when there is one.
  bool run_fast(int64_t m, int64_t k, int64_t n, const Tensor& a, const Tensor& b,
                const Quantizer& quant, const Tensor* bias, const Tensor* sum, Tensor& out) {
    if (int8_kernels_exact()) {
      return fast_.run(m, k, n, a, b, scales_, quant, bias, gelu_, sum != nullptr, out);
    }
    if (float_source_.raw() != b.raw()) {
      float_b_ = dequantized(b);
      float_source_ = b;
    }
    Tensor fa = Tensor::uninitialized(DType::kFloat32, {m, k});  // every value is written
    fake_quantize(a.data<float>(), fa.data<float>(), fa.numel(), quant);
    MatmulProblem p;
    p.a = {m, k};
    p.b = {k, n};
    p.out = {m, n};
    p.m = m;
    p.k = k;
    p.n = n;
    p.accumulate = sum && !gelu_;  // the residual rides as the accumulator before a GELU only
    if (!float_fast_.run(p, fa, float_b_, out, bias, gelu_)) return false;
    if (sum && gelu_) {
      for (int64_t i = 0; i < out.numel(); ++i) out.data<float>()[i] += sum->data<float>()[i];
    }
    return true;
  }

  // B [K, N] as float: column j times w_scale[j].
  Tensor dequantized(const Tensor& b) const {
    Tensor fb(DType::kFloat32, b.shape());
    const int64_t k = b.dim(0), n = b.dim(1);
    for (int64_t r = 0; r < k; ++r) {
      for (int64_t j = 0; j < n; ++j) {
        fb.data<float>()[r * n + j] =
            static_cast<float>(b.data<int8_t>()[r * n + j]) * scales_.w(j);
      }
    }
    return fb;
  }

  void run_reference(int64_t m, int64_t k, int64_t n, const Tensor& a, const Tensor& b,
                     const Quantizer& quant, const Tensor* bias, const Tensor* sum,
                     Tensor& out) const {
    Tensor fa = a.clone();
    fake_quantize(fa.data<float>(), fa.numel(), quant);
    const Tensor fb = dequantized(b);
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
  OnednnMatmul float_fast_;
  Tensor float_b_, float_source_;  // B dequantized, and the int8 buffer it came from
};

}  // namespace

std::unique_ptr<Kernel> make_int8_matmul_kernel(const Node& node, const KernelOptions& options) {
  return std::make_unique<Int8MatMulKernel>(node, options);
}

}  // namespace amphora
