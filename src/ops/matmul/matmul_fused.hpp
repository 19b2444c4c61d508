// com.amphora FusedMatMul: Y = activation(A x B + bias), a linear layer with its bias Add and
// its GELU folded in by passes/fuse_matmul.cpp (Vocos' ConvNeXt pointwise layers, where the
// separate Add and the five-node GELU were a fifth of a run). Inputs: A [..., K] (numpy MatMul
// semantics), B [K, N], optional bias with N values (added to every row), optional Sum shaped
// like Y (a residual, added last: Y = activation(A x B + bias) + Sum; written by
// passes/convnext_channels_last.cpp). Attribute `activation`: "Gelu" (exact, with erf) or absent.
// oneDNN runs it as one matmul with a bias, an eltwise_gelu_erf post-op or Sum as its sum post-op;
// the reference path is matmul_reference, then bias, std::erf and Sum.
#pragma once

#include "ops/kernel.hpp"

namespace amphora {

void register_fused_matmul_op(OpRegistry& registry);

// How MatMul and FusedMatMul stream (matmul_stream.cpp).
void register_matmul_stream_rules(OpRegistry& registry);

}  // namespace amphora
