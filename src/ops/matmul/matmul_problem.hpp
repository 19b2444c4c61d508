// A batched matrix product as both MatMul and Gemm reduce to it, with a plain reference kernel.
//   out[b] = alpha * op(A[b]) x op(B[b])  (+ the values already in out when accumulate)
// op() transposes the last two axes when trans_* is set. A, B and out have the same rank >= 2;
// batch axes of size 1 in A or B broadcast (numpy semantics).
#pragma once

#include <functional>

#include "core/tensor.hpp"

namespace amphora {

struct MatmulProblem {
  Shape a, b, out;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f;
  bool accumulate = false;  // Gemm's beta * C, written into out beforehand
  int64_t m = 0, k = 0, n = 0;
};

// Calls visit(batch, a_offset, b_offset) for each batch of the product in C order, with the
// element offsets of that batch's A and B matrices (an operand's axis of size 1 broadcasts).
void for_each_batch(
    const MatmulProblem& p,
    const std::function<void(int64_t batch, int64_t a_offset, int64_t b_offset)>& visit);

void matmul_reference(const MatmulProblem& p, const float* a, const float* b, float* out);

}  // namespace amphora
