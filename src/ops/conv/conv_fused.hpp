// com.amphora FusedConv / FusedConvTranspose: a Conv/ConvTranspose with its activation and
// residual Add folded in by src/passes/fuse_conv.cpp. The node carries every Conv attribute plus
//   activation  string  "Relu" | "LeakyRelu" | "Tanh" (absent: none)
//   alpha       float   LeakyRelu's slope (default 0.01, as ONNX)
//   input_activation  string  "Relu" | "LeakyRelu" applied to X before the conv (absent: none)
//   input_alpha       float   its LeakyRelu slope
//   pad_mode          string  "constant" (default: the conv's zero padding) | "reflect": the
//                             1-D time padding mirrors X (a Pad node fused in, fuse_pad.cpp)
// and inputs X, W, [B], [Sum]: y = activation(conv(input_activation(X), W) + B) + Sum. Sum normally
// has the output's shape (a residual); any shape that broadcasts onto it is accepted.
#pragma once

#include "graph/ir.hpp"
#include "ops/conv/conv_post_ops.hpp"
#include "ops/kernel.hpp"

namespace amphora {


// Registers FusedConv and FusedConvTranspose in `registry`; with the other com.amphora ops by
// register_amphora_domain_ops (ops/amphora_domain.hpp).
void register_fused_conv_ops(OpRegistry& registry);

// The post-ops a FusedConv node asks for (fails naming the node on an unknown activation).
ConvPostOps parse_conv_post_ops(const Node& node);

}  // namespace amphora
