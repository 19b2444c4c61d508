// MatMul (numpy semantics: 1-D operands promoted, batch axes broadcast), Gemm (alpha, beta,
// transA, transB, optional broadcast C) and com.amphora FusedMatMul (matmul_fused.hpp), all
// reduced to a MatmulProblem and run through the direct small-row kernel (matmul_small.hpp),
// oneDNN or the reference kernel.
#include <algorithm>
#include <cmath>

#include "ops/amphora_domain.hpp"
#include "ops/int8/int8.hpp"
#include "ops/kernel.hpp"
#include "ops/matmul/matmul_fused.hpp"
#include "ops/matmul/matmul_onednn.hpp"
#include "ops/matmul/matmul_problem.hpp"
#include "ops/matmul/matmul_small.hpp"

namespace amphora {
namespace {

void check_float(const Node& node, const Tensor& t, const char* input) {
  if (t.dtype() != DType::kFloat32) {
    fail(ErrorCode::kUnsupported, "{}: input {} is {}, only float32 is supported",
         node.display_name(), input, dtype_name(t.dtype()));
  }
}

class MatmulKernelBase : public Kernel {
 public:
  MatmulKernelBase(const Node& node, const KernelOptions& options)
      : node_(node), reference_(options.reference) {}

 protected:
  void compute(const MatmulProblem& p, const Tensor& a, const Tensor& b, Tensor& out) {
    if (out.numel() == 0) return;
    if (p.k > 0 && !reference_ &&
        (small_matmul(p, a.data<float>(), b.data<float>(), out.data<float>()) ||
         fast_.run(p, a, b, out))) {
      return;
    }
    matmul_reference(p, a.data<float>(), b.data<float>(), out.data<float>());
  }

  Node node_;
  bool reference_;
  OnednnMatmul fast_;
};

// MatMul's problem for A x B with numpy semantics; `result` gets the ONNX output shape.
MatmulProblem matmul_problem(const Node& node, const Tensor& a, const Tensor& b, Shape& result) {
  check_float(node, a, "A");
  check_float(node, b, "B");
  if (a.rank() == 0 || b.rank() == 0) {
    fail(ErrorCode::kInvalidArgument, "{}: MatMul operands must have rank >= 1, got {} and {}",
         node.display_name(), shape_str(a.shape()), shape_str(b.shape()));
  }
  MatmulProblem p;
  p.a = a.shape();
  p.b = b.shape();
  if (a.rank() == 1) p.a.insert(p.a.begin(), 1);  // [K] -> [1, K]
  if (b.rank() == 1) p.b.push_back(1);            // [K] -> [K, 1]
  const size_t rank = std::max(p.a.size(), p.b.size());
  p.a.insert(p.a.begin(), rank - p.a.size(), 1);
  p.b.insert(p.b.begin(), rank - p.b.size(), 1);
  p.m = p.a[rank - 2];
  p.k = p.a[rank - 1];
  p.n = p.b[rank - 1];
  if (p.b[rank - 2] != p.k) {
    fail(ErrorCode::kInvalidArgument, "{}: cannot multiply A {} by B {} (inner sizes {} and {})",
         node.display_name(), shape_str(a.shape()), shape_str(b.shape()), p.k, p.b[rank - 2]);
  }
  for (size_t i = 0; i + 2 < rank; ++i) {
    if (p.a[i] != p.b[i] && p.a[i] != 1 && p.b[i] != 1) {
      fail(ErrorCode::kInvalidArgument, "{}: batch axes of A {} and B {} do not broadcast",
           node.display_name(), shape_str(a.shape()), shape_str(b.shape()));
    }
    p.out.push_back(std::max(p.a[i], p.b[i]));
  }
  result = p.out;  // the ONNX output drops the axes that 1-D operands gained
  p.out.push_back(p.m);
  p.out.push_back(p.n);
  if (a.rank() != 1) result.push_back(p.m);
  if (b.rank() != 1) result.push_back(p.n);
  return p;
}

class MatMulKernel : public MatmulKernelBase {
 public:
  using MatmulKernelBase::MatmulKernelBase;

  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) override {
    check_input_count(node_, inputs, 2, 2);
    Shape result;
    const MatmulProblem p = matmul_problem(node_, *inputs[0], *inputs[1], result);
    Tensor out = Tensor::uninitialized(DType::kFloat32, result);
    compute(p, *inputs[0], *inputs[1], out);
    return {out};
  }
};

class FusedMatMulKernel : public MatmulKernelBase {
 public:
  FusedMatMulKernel(const Node& node, const KernelOptions& options)
      : MatmulKernelBase(node, options) {
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
    Shape result;
    MatmulProblem p = matmul_problem(node_, a, b, result);
    if (b.rank() != 2 || (bias && (bias->dtype() != DType::kFloat32 || bias->numel() != p.n))) {
      fail(ErrorCode::kInvalidArgument,
           "{}: expects B [K, N] and a float32 bias of N values; got A {}, B {}, bias {}",
           node_.display_name(), shape_str(a.shape()), shape_str(b.shape()),
           bias ? shape_str(bias->shape()) : "none");
    }
    if (sum && (sum->dtype() != DType::kFloat32 || sum->shape() != result)) {
      fail(ErrorCode::kInvalidArgument, "{}: Sum must be float32 shaped like the output {}, got {}",
           node_.display_name(), shape_str(result), shape_str(sum->shape()));
    }
    Tensor out = Tensor::uninitialized(DType::kFloat32, result);
    if (out.numel() == 0) return {out};
    // Without an activation the residual rides along as the product's accumulator (oneDNN's
    // sum post-op, the small kernel's accumulate); after a GELU it is added at the end.
    const bool sum_first = sum && !gelu_;
    if (sum_first) {
      std::copy_n(sum->data<float>(), out.numel(), out.data<float>());
      p.accumulate = true;
    }
    bool done = false;
    if (p.k > 0 && !reference_ &&
        (small_matmul(p, a.data<float>(), b.data<float>(), out.data<float>(),
                      bias ? bias->data<float>() : nullptr, gelu_) ||
         fast_.run(p, a, b, out, bias, gelu_))) {
      done = true;
    }
    if (!done) {
      p.accumulate = false;
      matmul_reference(p, a.data<float>(), b.data<float>(), out.data<float>());
      float* y = out.data<float>();
      const float* add = bias ? bias->data<float>() : nullptr;
      for (int64_t i = 0; i < out.numel(); ++i) {
        float v = y[i] + (add ? add[i % p.n] : 0.0f);
        if (gelu_) v = 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f)));
        y[i] = v;
      }
    }
    if (sum && (!done || !sum_first)) {
      float* y = out.data<float>();
      const float* s = sum->data<float>();
      for (int64_t i = 0; i < out.numel(); ++i) y[i] += s[i];
    }
    return {out};
  }

 private:
  bool gelu_ = false;
};

class GemmKernel : public MatmulKernelBase {
 public:
  GemmKernel(const Node& node, const KernelOptions& options)
      : MatmulKernelBase(node, options),
        alpha_(node.get_float("alpha", 1.0f)),
        beta_(node.get_float("beta", 1.0f)),
        trans_a_(node.get_int("transA", 0) != 0),
        trans_b_(node.get_int("transB", 0) != 0) {}

  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) override {
    check_input_count(node_, inputs, 2, 3);
    const Tensor& a = *inputs[0];
    const Tensor& b = *inputs[1];
    const Tensor* c = inputs.size() > 2 ? inputs[2] : nullptr;
    check_float(node_, a, "A");
    check_float(node_, b, "B");
    if (c) check_float(node_, *c, "C");
    if (a.rank() != 2 || b.rank() != 2) {
      fail(ErrorCode::kInvalidArgument, "{}: Gemm needs 2-D A and B, got {} and {}",
           node_.display_name(), shape_str(a.shape()), shape_str(b.shape()));
    }
    MatmulProblem p;
    p.a = a.shape();
    p.b = b.shape();
    p.trans_a = trans_a_;
    p.trans_b = trans_b_;
    p.alpha = alpha_;
    p.m = trans_a_ ? p.a[1] : p.a[0];
    p.k = trans_a_ ? p.a[0] : p.a[1];
    p.n = trans_b_ ? p.b[0] : p.b[1];
    const int64_t k_b = trans_b_ ? p.b[1] : p.b[0];
    if (k_b != p.k) {
      fail(ErrorCode::kInvalidArgument, "{}: cannot multiply A {} (transA={}) by B {} (transB={})",
           node_.display_name(), shape_str(p.a), trans_a_, shape_str(p.b), trans_b_);
    }
    p.out = {p.m, p.n};
    Tensor out(DType::kFloat32, p.out);
    if (c && beta_ != 0.0f) {
      fill_scaled_c(*c, out);
      p.accumulate = true;
    }
    compute(p, a, b, out);
    return {out};
  }

 private:
  // out = beta * C, C unidirectionally broadcast to [M, N].
  void fill_scaled_c(const Tensor& c, Tensor& out) const {
    const int64_t m = out.dim(0), n = out.dim(1);
    Shape cs = c.shape();
    if (cs.size() > 2) {
      fail(ErrorCode::kInvalidArgument, "{}: C {} has rank > 2", node_.display_name(),
           shape_str(cs));
    }
    cs.insert(cs.begin(), 2 - cs.size(), 1);
    if ((cs[0] != m && cs[0] != 1) || (cs[1] != n && cs[1] != 1)) {
      fail(ErrorCode::kInvalidArgument, "{}: C {} does not broadcast to [{}, {}]",
           node_.display_name(), shape_str(c.shape()), m, n);
    }
    const int64_t row_stride = cs[0] == 1 ? 0 : cs[1];
    const int64_t col_stride = cs[1] == 1 ? 0 : 1;
    const float* src = c.data<float>();
    float* dst = out.data<float>();
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) dst[i * n + j] = beta_ * src[i * row_stride + j * col_stride];
    }
  }

  float alpha_, beta_;
  bool trans_a_, trans_b_;
};

}  // namespace

void register_matmul_ops(OpRegistry& registry) {
  registry.add("", "MatMul", 1, [](const Node& node, int64_t, const KernelOptions& options) {
    return std::make_unique<MatMulKernel>(node, options);
  });
  registry.add("", "Gemm", 1, [](const Node& node, int64_t, const KernelOptions& options) {
    return std::make_unique<GemmKernel>(node, options);
  });
  register_matmul_stream_rules(registry);
}

void register_fused_matmul_op(OpRegistry& registry) {
  registry.add(
      kAmphoraDomain, "FusedMatMul", 1,
      [](const Node& node, int64_t, const KernelOptions& options) -> std::unique_ptr<Kernel> {
        // int8 B and a quantized A (passes/fuse_int8.cpp): ops/int8
        if (is_int8_node(node)) return make_int8_matmul_kernel(node, options);
        return std::make_unique<FusedMatMulKernel>(node, options);
      });
}

}  // namespace amphora
