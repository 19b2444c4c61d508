// com.amphora FusedMatMul: Y = activation(A x B + bias), a linear layer with its bias Add and
// its GELU folded in by passes/fuse_matmul.cpp (Vocos' ConvNeXt pointwise layers, where the
// separate Add and the five-node GELU were a fifth of a run). Inputs: A [..., K] (numpy MatMul
// semantics), B [K, N], optional bias with N values (added to every row). Attribute
// `activation`: "Gelu" (exact, with erf) or absent. oneDNN runs it as one matmul with a bias and
// an eltwise_gelu_erf post-op; the reference path is matmul_reference, then bias and std::erf.
#pragma once

#include "ops/kernel.hpp"

namespace amphora {

void register_fused_matmul_op(OpRegistry& registry);

// How MatMul and FusedMatMul stream (matmul_stream.cpp).
void register_matmul_stream_rules(OpRegistry& registry);

}  // namespace amphora
