#include "ops/attention/attention.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/amphora_domain.hpp"
#include "ops/avx2_lanes.hpp"
#include "ops/elementwise/elementwise_common.hpp"
#include "ops/matmul/matmul_small.hpp"
#include "ops/shape/shape_common.hpp"

namespace amphora {
namespace {

// Row strides of the [B, T, H, D] layouts: a head's consecutive steps are H * D apart.
struct Strides {
  int64_t q, k, v;
  explicit Strides(const AttentionShape& s)
      : q(s.heads * s.depth), k(s.heads * s.depth), v(s.heads * s.v_depth) {}
};

// One row of scores (`keys` of them, then padding up to a multiple of 8) -> its softmax in place;
// the padding lanes, set to -inf, weigh 0. A NaN score turns the row NaN through the sum.
void softmax_row(float* scores, int64_t keys, int64_t padded) {
  for (int64_t j = keys; j < padded; ++j) scores[j] = -INFINITY;
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  for (int64_t j = 0; j < padded; j += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(scores + j));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, vmax);
  const __m256 peak = _mm256_set1_ps(*std::max_element(lanes, lanes + 8));
  __m256 vsum = _mm256_setzero_ps();
  for (int64_t j = 0; j < padded; j += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + j), peak));
    _mm256_storeu_ps(scores + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  _mm256_store_ps(lanes, vsum);
  float sum = 0.0f;
  for (float lane : lanes) sum += lane;
  const __m256 inverse = _mm256_set1_ps(1.0f / sum);
  for (int64_t j = 0; j < padded; j += 8) {
    _mm256_storeu_ps(scores + j, _mm256_mul_ps(_mm256_loadu_ps(scores + j), inverse));
  }
}

// Query rows per block: their scores ([rows, Tk8]) stay in L2 between the two products.
constexpr int64_t kQueryRows = 48;

// Head (b, h): its keys transposed once to [D, Tk8] (Tk rounded up to 8, zeros past the end);
// then for each block of query rows the scores as one product with the small-row matmul kernel
// (Q's rows read in place, H * D apart), the mask (`mask` at this head) and each row's softmax,
// and the weighted values as a second product written straight into the output's rows.
void attend_head(const AttentionShape& s, const Strides& st, const float* q, const float* k,
                 const float* v, float scale, const AttentionMask& mask, float* out,
                 std::vector<float>& buffer) {
  const int64_t keys = s.kv_steps, padded = (keys + 7) / 8 * 8;
  buffer.assign(static_cast<size_t>(padded * s.depth + kQueryRows * padded), 0.0f);
  float* keys_t = buffer.data();
  float* scores = keys_t + padded * s.depth;
  for (int64_t j = 0; j < keys; ++j) {
    for (int64_t d = 0; d < s.depth; ++d) keys_t[d * padded + j] = k[j * st.k + d];
  }
  for (int64_t i = 0; i < s.q_steps; i += kQueryRows) {
    const int64_t rows = std::min(kQueryRows, s.q_steps - i);
    small_product(q + i * st.q, st.q, keys_t, padded, scores, padded, rows, padded, s.depth, scale);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = scores + r * padded;
      if (mask.values) {
        const float* row_mask = mask.values + (i + r) * mask.i;
        for (int64_t j = 0; j < keys; ++j) row[j] += row_mask[j * mask.j];
      }
      softmax_row(row, keys, padded);
    }
    small_product(scores, padded, v, st.v, out + i * st.v, st.v, rows, s.v_depth, keys);
  }
}

// Element offsets of head (b, h) at step 0 in Q (or K), V and the output.
int64_t head_offset(const AttentionShape& s, int64_t b, int64_t h, int64_t steps, int64_t depth) {
  return (b * steps * s.heads + h) * depth;
}

// The mask moved to head (b, h).
AttentionMask mask_at(const AttentionMask& mask, int64_t b, int64_t h) {
  AttentionMask at = mask;
  if (at.values) at.values += b * mask.b + h * mask.h;
  return at;
}

}  // namespace

void attention(const AttentionShape& s, const float* q, const float* k, const float* v, float scale,
               const AttentionMask& mask, float* out) {
  const Strides st(s);
  const int64_t heads = s.batch * s.heads;
  const int64_t work = heads * s.q_steps * s.kv_steps * (s.depth + s.v_depth);
#pragma omp parallel if (heads > 1 && work > 8 * kParallelElements)
  {
    std::vector<float> buffer;
#pragma omp for schedule(static)
    for (int64_t bh = 0; bh < heads; ++bh) {
      const int64_t b = bh / s.heads, h = bh % s.heads;
      attend_head(s, st, q + head_offset(s, b, h, s.q_steps, s.depth),
                  k + head_offset(s, b, h, s.kv_steps, s.depth),
                  v + head_offset(s, b, h, s.kv_steps, s.v_depth), scale, mask_at(mask, b, h),
                  out + head_offset(s, b, h, s.q_steps, s.v_depth), buffer);
    }
  }
}

void attention_reference(const AttentionShape& s, const float* q, const float* k, const float* v,
                         float scale, const AttentionMask& mask, float* out) {
  const Strides st(s);
  std::vector<double> p(static_cast<size_t>(s.kv_steps));
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t h = 0; h < s.heads; ++h) {
      for (int64_t i = 0; i < s.q_steps; ++i) {
        const float* qi = q + head_offset(s, b, h, s.q_steps, s.depth) + i * st.q;
        double peak = -INFINITY, sum = 0.0;
        for (int64_t j = 0; j < s.kv_steps; ++j) {
          const float* kj = k + head_offset(s, b, h, s.kv_steps, s.depth) + j * st.k;
          double dot = 0.0;
          for (int64_t d = 0; d < s.depth; ++d) dot += static_cast<double>(qi[d]) * kj[d];
          p[j] = dot * scale;
          if (mask.values) p[j] += mask.values[b * mask.b + h * mask.h + i * mask.i + j * mask.j];
          peak = std::isnan(p[j]) || p[j] > peak ? p[j] : peak;
        }
        for (int64_t j = 0; j < s.kv_steps; ++j) sum += p[j] = std::exp(p[j] - peak);
        float* oi = out + head_offset(s, b, h, s.q_steps, s.v_depth) + i * st.v;
        for (int64_t d = 0; d < s.v_depth; ++d) {
          double acc = 0.0;
          for (int64_t j = 0; j < s.kv_steps; ++j) {
            acc += p[j] / sum * v[head_offset(s, b, h, s.kv_steps, s.v_depth) + j * st.v + d];
          }
          oi[d] = static_cast<float>(acc);
        }
      }
    }
  }
}

namespace {

// The mask's element strides over the scores [B, H, Tq, Tk], numpy-broadcast (right-aligned, a
// dim of 1 repeats); anything else is refused naming the node.
AttentionMask mask_strides(const Node& node, const Tensor& mask, const AttentionShape& s) {
  expect_dtype(node, mask, DType::kFloat32, "mask");
  const Shape scores{s.batch, s.heads, s.q_steps, s.kv_steps};
  if (mask.rank() > 4) {
    fail(ErrorCode::kInvalidArgument, "{}: mask {} has more axes than the scores {}",
         node.display_name(), shape_str(mask.shape()), shape_str(scores));
  }
  int64_t strides[4] = {0, 0, 0, 0};
  int64_t step = 1;
  for (int64_t axis = 3, m = mask.rank() - 1; m >= 0; --axis, --m) {
    const int64_t dim = mask.dim(m);
    if (dim != 1 && dim != scores[static_cast<size_t>(axis)]) {
      fail(ErrorCode::kInvalidArgument, "{}: mask {} does not broadcast to the scores {}",
           node.display_name(), shape_str(mask.shape()), shape_str(scores));
    }
    strides[axis] = dim == 1 ? 0 : step;
    step *= dim;
  }
  return {mask.data<float>(), strides[0], strides[1], strides[2], strides[3]};
}

}  // namespace

void register_attention_op(OpRegistry& registry) {
  registry.add(
      kAmphoraDomain, "Attention", 1, [](const Node& node, int64_t, const KernelOptions& options) {
        const bool reference = options.reference;
        const float scale = node.get_float("scale", 1.0f);
        return make_function_kernel([node, reference, scale](const std::vector<const Tensor*>& in) {
          check_input_count(node, in, 7, 8);
          const Tensor &q = *in[0], &k = *in[1], &v = *in[2];
          for (const Tensor* t : {&q, &k, &v}) expect_dtype(node, *t, DType::kFloat32, "Q, K, V");
          auto as_4d = [&](const Tensor& t, const Tensor& target, const char* what) {
            const Shape s =
                reshape_target(node, t.shape(), read_int_input(node, target, what), false);
            if (s.size() != 4) {
              fail(ErrorCode::kInvalidArgument, "{}: {} reshaped to {}, not [B, T, heads, depth]",
                   node.display_name(), what, shape_str(s));
            }
            return s;
          };
          const Shape qs = as_4d(q, *in[3], "Q"), ks = as_4d(k, *in[4], "K"),
                      vs = as_4d(v, *in[5], "V");
          if (ks[0] != qs[0] || ks[2] != qs[2] || ks[3] != qs[3] || vs[0] != qs[0] ||
              vs[1] != ks[1] || vs[2] != qs[2]) {
            fail(ErrorCode::kInvalidArgument,
                 "{}: Q {}, K {} and V {} (as [B, T, heads, depth]) do not make one attention: "
                 "batch and heads must agree, K and Q share depth, K and V steps",
                 node.display_name(), shape_str(qs), shape_str(ks), shape_str(vs));
          }
          const AttentionShape s{qs[0], qs[2], qs[1], ks[1], qs[3], vs[3]};
          const Shape joined{s.batch, s.q_steps, s.heads, s.v_depth};
          Tensor y = Tensor::uninitialized(
              DType::kFloat32,
              reshape_target(node, joined, read_int_input(node, *in[6], "output shape"), false));
          if (y.numel() == 0) return std::vector<Tensor>{y};
          const Tensor* mask = optional_input(in, 7);
          (reference ? attention_reference : attention)(
              s, q.data<float>(), k.data<float>(), v.data<float>(), scale,
              mask ? mask_strides(node, *mask, s) : AttentionMask{}, y.data<float>());
          return std::vector<Tensor>{y};
        });
      });
}

}  // namespace amphora
