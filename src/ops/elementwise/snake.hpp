// com.amphora Snake: y = x + inv * sin(x * freq)^2 with per-channel freq and inv, the whole
// of BigVGAN's Snake/SnakeBeta activation (Mul, Sin, Pow, Mul, Add in the exported graph) in
// one pass over x instead of five. Written by passes/fuse_snake.cpp.
// Inputs: X [N, C, T], freq and inv with C elements (any shape that holds exactly C values,
// e.g. [1, C, 1]). The fast path uses fast_sin; reference kernels use std::sin.
#pragma once

#include "ops/kernel.hpp"

namespace amphora {

void register_snake_op(OpRegistry& registry);

}  // namespace amphora
