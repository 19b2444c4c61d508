#include "ops/matmul/matmul_problem.hpp"

namespace amphora {

void for_each_batch(const MatmulProblem& p,
                    const std::function<void(int64_t, int64_t, int64_t)>& visit) {
  const size_t batch_rank = p.out.size() - 2;
  // Element strides of each batch axis in A and B; 0 where that operand broadcasts.
  std::vector<int64_t> a_stride(batch_rank), b_stride(batch_rank);
  int64_t a_step = p.m * p.k, b_step = p.k * p.n;
  for (size_t i = batch_rank; i-- > 0;) {
    a_stride[i] = p.a[i] == 1 ? 0 : a_step;
    b_stride[i] = p.b[i] == 1 ? 0 : b_step;
    a_step *= p.a[i];
    b_step *= p.b[i];
  }
  int64_t batches = 1;
  for (size_t i = 0; i < batch_rank; ++i) batches *= p.out[i];
  std::vector<int64_t> index(batch_rank, 0);
  for (int64_t batch = 0; batch < batches; ++batch) {
    int64_t a_off = 0, b_off = 0;
    for (size_t i = 0; i < batch_rank; ++i) {
      a_off += index[i] * a_stride[i];
      b_off += index[i] * b_stride[i];
    }
    visit(batch, a_off, b_off);
    for (size_t i = batch_rank; i-- > 0;) {  // next batch index, C order
      if (++index[i] < p.out[i]) break;
      index[i] = 0;
    }
  }
}

void matmul_reference(const MatmulProblem& p, const float* a, const float* b, float* out) {
  // A[m, k] sits at m * a_rs + k * a_cs (transposed storage swaps the two).
  const int64_t a_rs = p.trans_a ? 1 : p.k, a_cs = p.trans_a ? p.m : 1;
  const int64_t b_rs = p.trans_b ? 1 : p.n, b_cs = p.trans_b ? p.k : 1;
  for_each_batch(p, [&](int64_t batch, int64_t a_off, int64_t b_off) {
    float* c = out + batch * p.m * p.n;
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        double acc = 0.0;
        for (int64_t l = 0; l < p.k; ++l) {
          acc +=
              static_cast<double>(a[a_off + i * a_rs + l * a_cs]) * b[b_off + l * b_rs + j * b_cs];
        }
        const float product = static_cast<float>(p.alpha * acc);
        c[i * p.n + j] = p.accumulate ? c[i * p.n + j] + product : product;
      }
    }
  });
}

}  // namespace amphora
