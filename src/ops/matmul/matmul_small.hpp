// Direct kernel for matrix products with few rows (linear layers of a transformer on one
// sentence, attention per head): oneDNN's matmul spends most of its time on such products in
// fixed per-call cost (argument maps, memory objects, its own blocking for large matrices), so a
// G2P BERT at 20 characters ran its 13 linear layers at a fraction of the FMA rate. This kernel
// reads B in its plain row-major layout (a panel of 32 or 16 columns stays in L1 across the row
// blocks, so packing buys little at these sizes and would need B to be constant), keeps a block
// of rows x panel in registers over the whole K, and applies alpha, Gemm's accumulate,
// FusedMatMul's bias and GELU on the way out. AVX-512 where the CPU has it, AVX2 otherwise.
#pragma once

#include "ops/matmul/matmul_problem.hpp"

namespace amphora {

// Products with at most this many rows per matrix (after folding a linear layer's batch axes
// into rows) take the direct kernel; larger ones go to oneDNN, whose threading and blocking pay
// off there (measured on the G2P BERT: at 21 rows the direct kernel is as fast as oneDNN on
// one thread and on two, with none of its spin-wait tail; at 101 rows oneDNN is 10 % faster
// on one thread and much faster on two).
inline constexpr int64_t kSmallMatmulRows = 64;
// Linear layers of at least this many multiply-adds share their column panels among the threads
// (the G2P BERT's 21 x 128 x 384 projections are ~1 M; an OpenMP region costs a few µs).
inline constexpr int64_t kSmallMatmulParallelMacs = 256 * 1024;

enum class SmallMatmulIsa { kAuto, kAvx2 };

// Computes the problem into out (plus bias over every row, then exact GELU, when given) and
// returns true, or returns false having written nothing when the problem is not one it takes
// (transposed operands, too many rows). `isa` forces the AVX2 path (tests).
bool small_matmul(const MatmulProblem& p, const float* a, const float* b, float* out,
                  const float* bias = nullptr, bool gelu = false,
                  SmallMatmulIsa isa = SmallMatmulIsa::kAuto);

// c = alpha * a x b for an m x k `a` and a k x n `b` whose rows lie lda and ldb floats apart,
// into rows ldc apart: the same kernel on operands read where they are (attention's heads, rows
// H * D apart), any number of rows, one thread.
void small_product(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                   int64_t m, int64_t n, int64_t k, float alpha = 1.0f);

}  // namespace amphora
