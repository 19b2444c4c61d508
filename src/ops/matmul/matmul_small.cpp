#include "ops/matmul/matmul_small.hpp"

#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "ops/elementwise/elementwise_fast.hpp"

namespace amphora {
namespace {

// One block: rows of A (row stride lda) times a panel of B (row stride ldb) into C (row
// stride ldc), K deep; C = alpha * product (+ C when accumulate).
struct Block {
  const float* a;
  int64_t lda;
  const float* b;
  int64_t ldb;
  float* c;
  int64_t ldc;
  int64_t k;
  float alpha;
  bool accumulate;
};

// B's rows are a row stride apart, too far apart for the hardware prefetcher to follow down a
// panel when the weights are not in cache (13 layers of a BERT do not all stay in L2): fetching
// a few rows ahead hides that latency. Prefetches past the end of B do not fault.
constexpr int64_t kPrefetchRows = 8;

// R rows x 32 columns (two zmm per row; R <= 12 keeps 24 accumulators, the two B vectors and
// the broadcast in the 32 registers). Masked loads and stores cover a panel narrower than 32;
// masked-off lanes are not read, so a panel at the end of B never reads past it.
template <int R>
__attribute__((target("avx512f"))) void block_avx512(const Block& t, __mmask16 m0, __mmask16 m1) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  const float* b = t.b;
  for (int64_t l = 0; l < t.k; ++l, b += t.ldb) {
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchRows * t.ldb), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchRows * t.ldb + 16), _MM_HINT_T0);
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, b);
    const __m512 b1 = _mm512_maskz_loadu_ps(m1, b + 16);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(t.a[r * t.lda + l]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
  const __m512 alpha = _mm512_set1_ps(t.alpha);
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    float* c = t.c + r * t.ldc;
    __m512 v0 = _mm512_mul_ps(acc0[r], alpha), v1 = _mm512_mul_ps(acc1[r], alpha);
    if (t.accumulate) {
      v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, c));
      v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, c + 16));
    }
    _mm512_mask_storeu_ps(c, m0, v0);
    _mm512_mask_storeu_ps(c + 16, m1, v1);
  }
}

constexpr int kRowsAvx512 = 12, kRowsAvx2 = 6;

template <int R>
__attribute__((target("avx512f"))) void rows_avx512(const Block& t, int rows, __mmask16 m0,
                                                    __mmask16 m1) {
  if constexpr (R > 1) {
    if (rows < R) return rows_avx512<R - 1>(t, rows, m0, m1);
  }
  block_avx512<R>(t, m0, m1);
}

// Columns [j0, j1) of the product, j0 a multiple of the panel width (32 here, 16 for AVX2).
__attribute__((target("avx512f"))) void product_avx512(Block t, int64_t m, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; j += 32) {
    const int64_t cols = std::min<int64_t>(32, j1 - j);
    const auto m0 = static_cast<__mmask16>(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
    const auto m1 = static_cast<__mmask16>(cols >= 32  ? 0xFFFF
                                           : cols > 16 ? (1u << (cols - 16)) - 1
                                                       : 0);
    for (int64_t i = 0; i < m; i += kRowsAvx512) {
      Block blk = t;
      blk.a = t.a + i * t.lda;
      blk.b = t.b + j;
      blk.c = t.c + i * t.ldc + j;
      rows_avx512<kRowsAvx512>(blk, static_cast<int>(std::min<int64_t>(kRowsAvx512, m - i)), m0,
                               m1);
    }
  }
}

// The AVX2 form: R rows x 16 columns (two ymm per row, R <= 6: 12 accumulators of 16 ymm).
template <int R>
void block_avx2(const Block& t, __m256i m0, __m256i m1) {
  __m256 acc0[R], acc1[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
  const float* b = t.b;
  for (int64_t l = 0; l < t.k; ++l, b += t.ldb) {
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchRows * t.ldb), _MM_HINT_T0);
    const __m256 b0 = _mm256_maskload_ps(b, m0);
    const __m256 b1 = _mm256_maskload_ps(b + 8, m1);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 av = _mm256_broadcast_ss(t.a + r * t.lda + l);
      acc0[r] = _mm256_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(av, b1, acc1[r]);
    }
  }
  const __m256 alpha = _mm256_set1_ps(t.alpha);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* c = t.c + r * t.ldc;
    __m256 v0 = _mm256_mul_ps(acc0[r], alpha), v1 = _mm256_mul_ps(acc1[r], alpha);
    if (t.accumulate) {
      v0 = _mm256_add_ps(v0, _mm256_maskload_ps(c, m0));
      v1 = _mm256_add_ps(v1, _mm256_maskload_ps(c + 8, m1));
    }
    _mm256_maskstore_ps(c, m0, v0);
    _mm256_maskstore_ps(c + 8, m1, v1);
  }
}

template <int R>
void rows_avx2(const Block& t, int rows, __m256i m0, __m256i m1) {
  if constexpr (R > 1) {
    if (rows < R) return rows_avx2<R - 1>(t, rows, m0, m1);
  }
  block_avx2<R>(t, m0, m1);
}

// Lanes [0, count) set, count clamped to [0, 8].
__m256i lane_mask(int64_t count) {
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const auto c = static_cast<int>(std::clamp<int64_t>(count, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), index);
}

void product_avx2(Block t, int64_t m, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; j += 16) {
    const int64_t cols = std::min<int64_t>(16, j1 - j);
    const __m256i m0 = lane_mask(cols), m1 = lane_mask(cols - 8);
    for (int64_t i = 0; i < m; i += kRowsAvx2) {
      Block blk = t;
      blk.a = t.a + i * t.lda;
      blk.b = t.b + j;
      blk.c = t.c + i * t.ldc + j;
      rows_avx2<kRowsAvx2>(blk, static_cast<int>(std::min<int64_t>(kRowsAvx2, m - i)), m0, m1);
    }
  }
}

// fast_erf (elementwise_fast.hpp) on 8 lanes, same clamp and coefficients: the scalar form
// does not vectorise (its division and clamp stay scalar), and GELU over a 21 x 512 layer then
// cost more than the product itself. min/max return their second operand when either is NaN, so
// with the input second NaN propagates as in the scalar form.
__m256 erf8(__m256 a) {
  const __m256 x = _mm256_max_ps(_mm256_set1_ps(-4.0f), _mm256_min_ps(_mm256_set1_ps(4.0f), a));
  const __m256 x2 = _mm256_mul_ps(x, x);
  auto c = [](float v) { return _mm256_set1_ps(v); };
  __m256 p = _mm256_fmadd_ps(x2, c(-2.72614225801306e-10f), c(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(x2, p, c(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(x2, p, c(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(x2, p, c(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(x2, p, c(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(x2, p, c(-1.60960333262415e-02f));
  p = _mm256_mul_ps(x, p);
  __m256 q = _mm256_fmadd_ps(x2, c(-1.45660718464996e-05f), c(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(x2, q, c(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(x2, q, c(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(x2, q, c(-1.42647390514189e-02f));
  return _mm256_div_ps(p, q);
}

// Bias over every row, then GELU 0.5 v (1 + erf(v / sqrt 2)), on columns [j0, j1) of rows
// n long.
void epilogue(float* y, int64_t rows, int64_t n, int64_t j0, int64_t j1, const float* bias,
              bool gelu) {
  const int64_t whole = j0 + (j1 - j0) / 8 * 8;
  for (int64_t i = 0; i < rows; ++i, y += n) {
    if (bias) {
      for (int64_t j = j0; j < j1; ++j) y[j] += bias[j];
    }
    if (!gelu) continue;
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 inv_sqrt2 = _mm256_set1_ps(0.70710678118654752f);
    for (int64_t j = j0; j < whole; j += 8) {
      const __m256 v = _mm256_loadu_ps(y + j);
      const __m256 e = erf8(_mm256_mul_ps(v, inv_sqrt2));
      _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, e)));
    }
    for (int64_t j = whole; j < j1; ++j) {
      y[j] = 0.5f * y[j] * (1.0f + fast_erf(y[j] * 0.70710678118654752f));
    }
  }
}

// Columns [j0, j1) of the block's product over m rows, on the widest ISA allowed.
void product(const Block& t, int64_t m, int64_t j0, int64_t j1, bool wide) {
  if (wide) {
    product_avx512(t, m, j0, j1);
  } else {
    product_avx2(t, m, j0, j1);
  }
}

bool has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f");
  return has;
}

}  // namespace

void small_product(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                   int64_t m, int64_t n, int64_t k, float alpha) {
  product(Block{a, lda, b, ldb, c, ldc, k, alpha, false}, m, 0, n, has_avx512());
}

bool small_matmul(const MatmulProblem& p, const float* a, const float* b, float* out,
                  const float* bias, bool gelu, SmallMatmulIsa isa) {
  if (p.trans_a || p.trans_b || p.k <= 0) return false;
  const size_t batch_rank = p.out.size() - 2;
  int64_t batches = 1;
  bool b_shared = true;
  for (size_t i = 0; i < batch_rank; ++i) {
    batches *= p.out[i];
    b_shared = b_shared && p.b[i] == 1;
  }
  // A linear layer (one B for every batch): its batches are rows of one product.
  const int64_t rows = b_shared ? p.m * batches : p.m;
  if (rows > kSmallMatmulRows) return false;
  const bool wide = has_avx512() && isa == SmallMatmulIsa::kAuto;
  auto block = [&](const float* a_b, const float* b_b, float* c_b) {
    return Block{a_b, p.k, b_b, p.n, c_b, p.n, p.k, p.alpha, p.accumulate};
  };
  if (!b_shared) {
    for_each_batch(p, [&](int64_t batch, int64_t a_off, int64_t b_off) {
      product(block(a + a_off, b + b_off, out + batch * p.m * p.n), p.m, 0, p.n, wide);
    });
    if (bias || gelu) epilogue(out, p.m * batches, p.n, 0, p.n, bias, gelu);
    return true;
  }
  // A linear layer's column panels are independent: big enough ones are shared among the
  // threads, each panel finished (bias, GELU) by the thread that computed it while in cache.
  const int64_t width = wide ? 32 : 16, panels = (p.n + width - 1) / width;
  const bool parallel = rows * p.n * p.k >= kSmallMatmulParallelMacs && panels > 1;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t panel = 0; panel < panels; ++panel) {
    const int64_t j0 = panel * width, j1 = std::min(p.n, j0 + width);
    product(block(a, b, out), rows, j0, j1, wide);
    if (bias || gelu) epilogue(out, rows, p.n, j0, j1, bias, gelu);
  }
  return true;
}

}  // namespace amphora
