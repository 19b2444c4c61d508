// com.amphora Attention: the fast kernel against the reference on random problems (depths and
// key counts around the 8-lane vectors and 4-vector blocks, one key, values deeper or shallower
// than the keys, several batches and heads: the threaded path; masks broadcast over different
// axes), NaN rows, and bad shapes and masks refused naming the node.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "op_test_util.hpp"
#include "ops/amphora_domain.hpp"
#include "ops/attention/attention.hpp"

namespace amphora {
namespace {

std::vector<float> random_values(int64_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(Attention, FastKernelMatchesReference) {
  std::mt19937 rng(5);
  auto pick = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int trial = 0; trial < 200; ++trial) {
    const bool large = trial % 10 == 0;
    AttentionShape s{pick(1, 2),  pick(1, 4), pick(1, large ? 120 : 40), pick(1, large ? 120 : 40),
                     pick(1, 70), pick(1, 70)};
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.depth));
    const auto q = random_values(s.batch * s.q_steps * s.heads * s.depth, rng, 1.5f);
    const auto k = random_values(s.batch * s.kv_steps * s.heads * s.depth, rng, 1.5f);
    const auto v = random_values(s.batch * s.kv_steps * s.heads * s.v_depth, rng, 1.0f);
    // A mask over [B, H, Tq, Tk] or broadcast: none, [B, 1, 1, Tk] (padding), [Tq, Tk], full.
    const int kind = trial % 4;
    const Shape dims = kind == 1   ? Shape{s.batch, 1, 1, s.kv_steps}
                       : kind == 2 ? Shape{1, 1, s.q_steps, s.kv_steps}
                                   : Shape{s.batch, s.heads, s.q_steps, s.kv_steps};
    const auto mask_values = random_values(shape_numel(dims), rng, 3.0f);
    AttentionMask mask;
    if (kind != 0) {
      mask.values = mask_values.data();
      mask.j = 1;
      mask.i = dims[2] == 1 ? 0 : s.kv_steps;
      mask.h = dims[1] == 1 ? 0 : s.q_steps * s.kv_steps;
      mask.b = dims[0] == 1 ? 0 : dims[1] * dims[2] * s.kv_steps;
    }
    const size_t out = static_cast<size_t>(s.batch * s.q_steps * s.heads * s.v_depth);
    std::vector<float> got(out, NAN), want(out, NAN);
    attention(s, q.data(), k.data(), v.data(), scale, mask, got.data());
    attention_reference(s, q.data(), k.data(), v.data(), scale, mask, want.data());
    for (size_t i = 0; i < out; ++i) {
      ASSERT_NEAR(got[i], want[i], 2e-5f * (1.0f + std::fabs(want[i])))
          << "trial " << trial << " B " << s.batch << " H " << s.heads << " Tq " << s.q_steps
          << " Tk " << s.kv_steps << " D " << s.depth << " Dv " << s.v_depth << " mask " << kind
          << " at " << i;
    }
  }
}

TEST(Attention, NanScoreMakesItsRowNan) {
  const AttentionShape s{1, 1, 2, 3, 4, 2};
  std::vector<float> q{NAN, 0, 0, 0, /* row 1 */ 0, 1, 0, 0};
  std::vector<float> k{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0};
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  for (auto* fn : {&attention, &attention_reference}) {
    std::vector<float> out(4, 0.0f);
    fn(s, q.data(), k.data(), v.data(), 1.0f, AttentionMask{}, out.data());
    EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1]));
    EXPECT_FALSE(std::isnan(out[2]) || std::isnan(out[3]));
  }
}

TEST(Attention, ShapesThatMakeNoAttentionAreRefusedNamingTheNode) {
  register_amphora_domain_ops_once();
  Node node = testing::make_node("Attention", testing::numbered_names("in", 7), {{"scale", 0.5f}});
  node.domain = kAmphoraDomain;
  node.name = "layer_3_attention";
  auto kernel = OpRegistry::instance().create(node, 1, KernelOptions{});
  Tensor q(DType::kFloat32, {1, 5, 8}), k(DType::kFloat32, {1, 6, 8});
  Tensor heads2 = Tensor::from_vector<int64_t>({4}, {1, -1, 2, 4});
  Tensor heads4 = Tensor::from_vector<int64_t>({4}, {1, -1, 4, 2});
  Tensor joined = Tensor::from_vector<int64_t>({3}, {1, -1, 8});
  Tensor flat = Tensor::from_vector<int64_t>({2}, {-1, 8});
  testing::expect_error(
      [&] {
        kernel->run({&q, &k, &k, &heads2, &heads4, &heads2, &joined});
      },
      ErrorCode::kInvalidArgument, {"layer_3_attention", "[1, 6, 4, 2]"});
  testing::expect_error(
      [&] {
        kernel->run({&q, &k, &k, &flat, &heads2, &heads2, &joined});
      },
      ErrorCode::kInvalidArgument, {"layer_3_attention", "Q reshaped to"});
  Tensor long_mask(DType::kFloat32, {1, 1, 1, 7});
  testing::expect_error(
      [&] {
        kernel->run({&q, &k, &k, &heads2, &heads2, &heads2, &joined, &long_mask});
      },
      ErrorCode::kInvalidArgument, {"layer_3_attention", "[1, 1, 1, 7]", "[1, 2, 5, 6]"});
  Tensor padding_mask(DType::kFloat32, {1, 1, 1, 6});
  const auto out = kernel->run({&q, &k, &k, &heads2, &heads2, &heads2, &joined, &padding_mask});
  EXPECT_EQ(out[0].shape(), (Shape{1, 5, 8}));
}

}  // namespace
}  // namespace amphora
