// MatMul / Gemm: reference against hand-computed products, oneDNN against the reference on
// seeded random shapes (broadcast batches, 1-D operands, transposes, C broadcasts), errors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "op_test_util.hpp"
#include "ops/kernel.hpp"
#include "ops/matmul/matmul_onednn.hpp"
#include "ops/matmul/matmul_small.hpp"

namespace amphora {
namespace {

using namespace testing;

// MatMul / Gemm nodes read a, b and (Gemm, optionally) c.
Node matmul_node(const std::string& op, std::map<std::string, Attribute> attrs = {}) {
  return make_node(op, {"a", "b", "c"}, std::move(attrs));
}

TEST(MatMul, HandComputedProducts) {
  Tensor a = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Tensor::from_vector<float>({3, 2}, {1, 0, 0, 1, 1, 1});
  expect_both_paths(matmul_node("MatMul"), {&a, &b}, {2, 2}, {4, 5, 10, 11});
  Tensor v = Tensor::from_vector<float>({3}, {1, -1, 2});
  expect_both_paths(matmul_node("MatMul"), {&a, &v}, {2}, {5, 11});  // [2,3] x [3]
  Tensor u = Tensor::from_vector<float>({2}, {1, 1});
  expect_both_paths(matmul_node("MatMul"), {&u, &a}, {3}, {5, 7, 9});  // [2] x [2,3]
  expect_both_paths(matmul_node("MatMul"), {&v, &v}, {}, {6});         // dot product
}

TEST(MatMul, BroadcastsBatchAxes) {
  // A [2, 1, 1, 2] times B [3, 2, 1]: batch axes broadcast to [2, 3].
  Tensor a = Tensor::from_vector<float>({2, 1, 1, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<float>({3, 2, 1}, {1, 0, 0, 1, 1, 1});
  expect_both_paths(matmul_node("MatMul"), {&a, &b}, {2, 3, 1, 1}, {1, 2, 3, 3, 4, 7});
}

TEST(Gemm, AlphaBetaTransposesAndBroadcastC) {
  Tensor a = Tensor::from_vector<float>({3, 2}, {1, 4, 2, 5, 3, 6});  // A^T of [[1,2,3],[4,5,6]]
  Tensor b = Tensor::from_vector<float>({2, 3}, {1, 0, 1, 0, 1, 1});  // B^T of [3,2]
  Tensor c = Tensor::from_vector<float>({2}, {10, 20});
  Node node = matmul_node(
      "Gemm", {{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"alpha", 2.0f}, {"beta", 0.5f}});
  // A x B = [[4, 5], [10, 11]]; 2 * that + 0.5 * [10, 20] on every row.
  expect_both_paths(node, {&a, &b, &c}, {2, 2}, {13, 20, 25, 32});
  Tensor column = Tensor::from_vector<float>({2, 1}, {1, -1});
  expect_both_paths(node, {&a, &b, &column}, {2, 2}, {8.5f, 10.5f, 19.5f, 21.5f});
  Tensor scalar = Tensor::from_vector<float>({}, {4});
  expect_both_paths(node, {&a, &b, &scalar}, {2, 2}, {10, 12, 22, 24});
  expect_both_paths(node, {&a, &b}, {2, 2}, {8, 10, 20, 22});
  expect_both_paths(node, {&a, &b, nullptr}, {2, 2}, {8, 10, 20, 22});
}

TEST(MatMul, OnednnMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(99);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t m = pick(1, 40), k = pick(1, 70), n = pick(1, 40);
    const int64_t batch_rank = pick(0, 3);
    Shape a_shape, b_shape;
    for (int64_t i = 0; i < batch_rank; ++i) {
      const int64_t size = pick(1, 3);
      const int64_t who = pick(0, 3);  // 0: both, 1: A broadcasts, 2: B broadcasts, 3: B lacks
      a_shape.push_back(who == 1 ? 1 : size);
      if (who != 3 || !b_shape.empty()) b_shape.push_back(who == 2 ? 1 : size);
    }
    a_shape.push_back(m);
    a_shape.push_back(k);
    b_shape.push_back(k);
    b_shape.push_back(n);
    if (pick(0, 9) == 0) a_shape = {k};
    if (pick(0, 9) == 0) b_shape = {k};
    Tensor a = random_tensor(a_shape, rng), b = random_tensor(b_shape, rng);
    SCOPED_TRACE(::testing::Message() << "A " << shape_str(a_shape) << " B " << shape_str(b_shape));
    expect_paths_agree(matmul_node("MatMul"), {&a, &b});
  }
}

TEST(Gemm, OnednnMatchesReferenceOnRandomShapes) {
  std::mt19937 rng(98);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  std::uniform_real_distribution<float> scale(-2.0f, 2.0f);
  for (int trial = 0; trial < 120; ++trial) {
    const int64_t m = pick(1, 50), k = pick(1, 50), n = pick(1, 50);
    const bool trans_a = pick(0, 1), trans_b = pick(0, 1);
    std::map<std::string, Attribute> attrs{{"transA", int64_t{trans_a}},
                                           {"transB", int64_t{trans_b}}};
    if (pick(0, 1)) attrs["alpha"] = scale(rng);
    if (pick(0, 1)) attrs["beta"] = pick(0, 3) == 0 ? 0.0f : scale(rng);
    Tensor a = random_tensor(trans_a ? Shape{k, m} : Shape{m, k}, rng);
    Tensor b = random_tensor(trans_b ? Shape{n, k} : Shape{k, n}, rng);
    const Shape c_shapes[] = {{m, n}, {n}, {1, n}, {m, 1}, {}, {1, 1}};
    Tensor c = random_tensor(c_shapes[pick(0, 5)], rng);
    SCOPED_TRACE(::testing::Message() << "trial " << trial << " C " << shape_str(c.shape()));
    if (pick(0, 4) == 0) {
      expect_paths_agree(matmul_node("Gemm", attrs), {&a, &b});
    } else {
      expect_paths_agree(matmul_node("Gemm", attrs), {&a, &b, &c});
    }
  }
}

// The shapes of linear layers and attention must run in oneDNN itself, not fall back silently.
TEST(MatMul, OnednnAcceptsLinearAndAttentionShapes) {
  std::mt19937 rng(5);
  struct Case {
    Shape a, b;
    int64_t m, k, n;
    Shape out;
  };
  const std::vector<Case> cases = {
      {{1, 1, 100, 64}, {1, 1, 64, 192}, 100, 64, 192, {1, 1, 100, 192}},  // linear, batch folded
      {{2, 4, 16, 8}, {2, 4, 8, 16}, 16, 8, 16, {2, 4, 16, 16}},           // Q x K^T per head
      {{2, 4, 16, 16}, {1, 4, 16, 8}, 16, 16, 8, {2, 4, 16, 8}},           // broadcast batch
  };
  for (const Case& c : cases) {
    MatmulProblem p;
    p.a = c.a;
    p.b = c.b;
    p.out = c.out;
    p.m = c.m;
    p.k = c.k;
    p.n = c.n;
    Tensor a = random_tensor(c.a, rng), b = random_tensor(c.b, rng);
    Tensor fast(DType::kFloat32, c.out), reference(DType::kFloat32, c.out);
    OnednnMatmul matmul;
    EXPECT_TRUE(matmul.run(p, a, b, fast)) << shape_str(c.a) << " x " << shape_str(c.b);
    matmul_reference(p, a.data<float>(), b.data<float>(), reference.data<float>());
    std::vector<float> f = fast.to_float_vector(), r = reference.to_float_vector();
    for (size_t i = 0; i < f.size(); ++i) ASSERT_NEAR(f[i], r[i], 1e-4) << "at " << i;
  }
}

// The direct small-row kernel against the reference, on both ISAs: row counts around its
// register blocks (6 and 12 rows), column counts around its panels (16 and 32, with tails), K
// from 1, shared and per-batch B, alpha, accumulate, bias and GELU; every fifth product is wide
// and deep enough for its panels to be shared among the threads (when there are several).
TEST(MatMul, SmallKernelMatchesReference) {
  std::mt19937 rng(17);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 300; ++trial) {
    const bool large = trial % 5 == 0;
    const int64_t m = pick(large ? 12 : 1, kSmallMatmulRows / 3);
    const int64_t k = large ? pick(128, 300) : pick(1, 150),
                  n = large ? pick(200, 600) : pick(1, 80);
    const int64_t batches = pick(1, 3);
    const bool shared = pick(0, 1) != 0;
    MatmulProblem p;
    p.a = {batches, m, k};
    p.b = {shared ? 1 : batches, k, n};
    p.out = {batches, m, n};
    p.m = m;
    p.k = k;
    p.n = n;
    p.alpha = pick(0, 1) ? 1.0f : 0.5f;
    p.accumulate = pick(0, 3) == 0;
    const bool with_bias = pick(0, 1) != 0, gelu = pick(0, 1) != 0;
    Tensor a = random_tensor(p.a, rng), b = random_tensor(p.b, rng);
    Tensor bias = random_tensor({n}, rng), start = random_tensor(p.out, rng);
    // The reference: product (onto `start` when accumulating), then bias and exact GELU.
    std::vector<float> want = start.to_float_vector();
    matmul_reference(p, a.data<float>(), b.data<float>(), want.data());
    for (size_t i = 0; i < want.size(); ++i) {
      float v = want[i] + (with_bias ? bias.data<float>()[i % static_cast<size_t>(n)] : 0.0f);
      if (gelu) v = 0.5f * v * (1.0f + std::erf(v / std::sqrt(2.0f)));
      want[i] = v;
    }
    for (SmallMatmulIsa isa : {SmallMatmulIsa::kAuto, SmallMatmulIsa::kAvx2}) {
      SCOPED_TRACE(::testing::Message() << "trial " << trial << " m " << m << " k " << k << " n "
                                        << n << " batches " << batches << " shared " << shared
                                        << " avx2 " << (isa == SmallMatmulIsa::kAvx2));
      std::vector<float> got = start.to_float_vector();
      ASSERT_TRUE(small_matmul(p, a.data<float>(), b.data<float>(), got.data(),
                               with_bias ? bias.data<float>() : nullptr, gelu, isa));
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::fabs(want[i]))) << "at " << i;
      }
    }
  }
}

// Transposed operands and products with many rows are not its to take.
TEST(MatMul, SmallKernelDeclinesTransposesAndManyRows) {
  MatmulProblem p;
  p.a = {2, 3};
  p.b = {3, 4};
  p.out = {2, 4};
  p.m = 2;
  p.k = 3;
  p.n = 4;
  std::vector<float> a(6, 1.0f), b(12, 1.0f), out(8, 0.0f);
  p.trans_b = true;
  EXPECT_FALSE(small_matmul(p, a.data(), b.data(), out.data()));
  p.trans_b = false;
  p.a = {2, kSmallMatmulRows, 3};
  p.b = {1, 3, 4};
  p.out = {2, kSmallMatmulRows, 4};
  p.m = kSmallMatmulRows;
  EXPECT_FALSE(small_matmul(p, a.data(), b.data(), out.data()));  // batches fold to 2x the rows
}

TEST(MatMul, MismatchedShapesNameTheNode) {
  std::mt19937 rng(3);
  const Node matmul = matmul_node("MatMul"), gemm = matmul_node("Gemm");
  Tensor a = random_tensor({2, 3, 4}, rng), b = random_tensor({5, 2}, rng);
  EXPECT_EQ(error_of(matmul, {&a, &b}, "test_MatMul"), ErrorCode::kInvalidArgument);
  Tensor b_batch = random_tensor({3, 4, 2}, rng);
  EXPECT_EQ(error_of(matmul, {&a, &b_batch}, "do not broadcast"), ErrorCode::kInvalidArgument);
  Tensor scalar = Tensor::from_vector<float>({}, {1});
  EXPECT_EQ(error_of(matmul, {&scalar, &b}, "rank"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of(matmul, {&a}, "inputs"), ErrorCode::kInvalidModel);
  EXPECT_EQ(error_of(gemm, {&a, &b}, "test_Gemm"), ErrorCode::kInvalidArgument);
  Tensor a2 = random_tensor({3, 5}, rng), c_bad = random_tensor({3, 3}, rng);
  EXPECT_EQ(error_of(gemm, {&a2, &b, &c_bad}, "broadcast"), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of(matmul_node("Gemm", {{"alpha", int64_t{2}}}), {&a2, &b}, "alpha"),
            ErrorCode::kInvalidModel);
  Tensor ints(DType::kInt32, {5, 2});
  EXPECT_EQ(error_of(gemm, {&a2, &ints}, "int32"), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace amphora
