// com.amphora Attention: one head-split scaled dot-product attention, as a transformer exported
// from PyTorch spells it in eleven nodes (passes/fuse_attention.cpp):
//   q, k, v [.., H * D] -> Reshape to [B, T, H, D] -> Transpose to [B, H, T, D] (k to [B, H, D, T])
//   -> MatMul(q, k) -> Div by a constant (or Mul) [-> Add a mask] -> Softmax(-1) -> MatMul(., v)
//   -> Transpose back to [B, T, H, D] -> Reshape.
// The kernel reads each head in place (rows H * D apart) instead of transposing q, v and the
// result, runs both products on the small-row matmul kernel (matmul/matmul_small.hpp), and keeps
// a block of scores in cache from the products through the softmax.
//
// Inputs: Q, K, V, then the four Reshape targets (int64: Q's, K's, V's, the output's), which the
// kernel resolves as Reshape does (0 copies a dim, one -1 is inferred). Q must come out
// [B, Tq, H, D], K [B, Tk, H, D], V [B, Tk, H, Dv]. Optional eighth input: an additive mask
// (float32, broadcasting to the scores [B, H, Tq, Tk] as numpy does, e.g. a BERT's [B, 1, 1, Tk]
// of 0 and -10000). Attribute `scale` (float): the scores are multiplied by it (1/c for the Div it
// replaces) before the mask is added. Output: [B, Tq, H, Dv] reshaped by the fourth target.
//
// No stream rule: every output step reads every input step, so the streamer refuses it by name.
#pragma once

#include <cstdint>

#include "ops/kernel.hpp"

namespace amphora {

// One problem in the layout above: element (b, t, h, d) of Q at ((b * Tq + t) * H + h) * D + d.
struct AttentionShape {
  int64_t batch = 0, heads = 0, q_steps = 0, kv_steps = 0, depth = 0, v_depth = 0;
};

// An additive mask as element strides over the scores' axes b, h, i (query), j (key): 0 where it
// broadcasts. No values: no mask.
struct AttentionMask {
  const float* values = nullptr;
  int64_t b = 0, h = 0, i = 0, j = 0;
};

// out [B, Tq, H, Dv] = softmax(scale * Q K^T + mask) V per batch and head. The fast form shares
// heads and query rows among the threads when the problem is large enough; the reference is plain
// loops.
void attention(const AttentionShape& s, const float* q, const float* k, const float* v, float scale,
               const AttentionMask& mask, float* out);
void attention_reference(const AttentionShape& s, const float* q, const float* k, const float* v,
                         float scale, const AttentionMask& mask, float* out);

void register_attention_op(OpRegistry& registry);

}  // namespace amphora
