// The com.amphora operator domain: the ops amphora's graph passes write (src/passes) and that
// graphs saved after them carry -- FusedConv and FusedConvTranspose (conv/conv_fused.hpp),
// FusedMatMul (matmul/matmul_fused.hpp), DwConvLayerNorm (conv/conv_dw_norm.hpp), Snake
// (elementwise/snake.hpp) and Attention (attention/attention.hpp). FusedConv, FusedConvTranspose
// and FusedMatMul also come in an int8 form (attributes x_scale and w_scale, int8 W:
// int8/int8.hpp, written by passes/fuse_int8.cpp) that their factories hand to the int8 kernels.
// Passes and the streamer need the domain's name without depending on any one op's kernel, hence
// this header.
#pragma once

#include "ops/kernel.hpp"

namespace amphora {

inline constexpr const char* kAmphoraDomain = "com.amphora";

// Registers every com.amphora op in `registry` (call once per registry).
void register_amphora_domain_ops(OpRegistry& registry);
// The same on OpRegistry::instance(), once per process. Session and the streamer call it before
// creating kernels, so graphs produced by the passes (or saved after them) always find these
// ops.
void register_amphora_domain_ops_once();

}  // namespace amphora
