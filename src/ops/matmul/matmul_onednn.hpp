// oneDNN fast path for MatMul, Gemm and FusedMatMul: the matmul primitive with alpha as output
// scale, Gemm's C as a sum post-op, FusedMatMul's bias and GELU (erf) as bias and eltwise post-op;
// one primitive per operand shape, operands in plain layout (transposes expressed as strides, so
// nothing is copied).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "ops/matmul/matmul_problem.hpp"

namespace amphora {

class OnednnMatmul {
 public:
  OnednnMatmul();
  ~OnednnMatmul();
  OnednnMatmul(const OnednnMatmul&) = delete;
  OnednnMatmul& operator=(const OnednnMatmul&) = delete;

  // Computes the problem into out; returns false, having written nothing, when oneDNN cannot
  // (the caller runs matmul_reference). Not safe to call concurrently on one object.
  // `bias` (N values, added to every row) and `gelu` (applied last) are FusedMatMul's.
  bool run(const MatmulProblem& p, const Tensor& a, const Tensor& b, Tensor& out,
           const Tensor* bias = nullptr, bool gelu = false);

 private:
  struct Plan;
  static constexpr size_t kMaxPlans = 32;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;  // key: shapes and post-ops
};

}  // namespace amphora
