// oneDNN fast path for MatMul, Gemm and FusedMatMul: the matmul primitive with alpha as output
// scale, Gemm's C as a sum post-op, FusedMatMul's bias and GELU (erf) as bias and eltwise post-op;
// one primitive per operand shape, operands in plain layout (transposes expressed as strides, so
// nothing is copied).
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "ops/matmul/matmul_problem.hpp"

namespace dnnl {
struct memory;
}

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
  // `constant_b`: B is a 2-D weight that does not change between calls (FusedMatMul's); it is
  // then reordered once into the layout the primitive prefers and kept, keyed by its buffer and
  // shared by every kernel that reads the same buffer (one packed copy of a model's weights,
  // however many streams run it; 3-4 % of a Vocos run, for that copy's memory).
  bool run(const MatmulProblem& p, const Tensor& a, const Tensor& b, Tensor& out,
           const Tensor* bias = nullptr, bool gelu = false, bool constant_b = false);

 private:
  struct Plan;
  struct PackedB;
  dnnl::memory packed_b(const Plan& plan, const Tensor& b);
  static constexpr size_t kMaxPlans = 32;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;  // key: shapes and post-ops
  std::vector<std::shared_ptr<PackedB>> packed_;  // B in the primitives' layouts (shared)
};

}  // namespace amphora
