// A batched matrix product as both MatMul and Gemm reduce to it, with a plain reference kernel.
//   out[b] = alpha * op(A[b]) x op(B[b])  (+ the values already in out when accumulate)
// op() transposes the last two axes when trans_* is set. A, B and out have the same rank >= 2;
// batch axes of size 1 in A or B broadcast (numpy semantics).
#pragma once

#include "core/tensor.hpp"

namespace amphora {

struct MatmulProblem {
  Shape a, b, out;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f;
  bool accumulate = false;  // Gemm's beta * C, written into out beforehand
  int64_t m = 0, k = 0, n = 0;
};

void matmul_reference(const MatmulProblem& p, const float* a, const float* b, float* out);

}  // namespace amphora
