// The int8 family: com.amphora FusedConv / FusedConvTranspose / FusedMatMul nodes whose weights
// are int8 and whose X is quantized to int8 on the way in -- what passes/fuse_int8.cpp makes of
// a QDQ-quantized conv or matmul. Such a node carries, besides its float op's attributes:
//   x_scale  float   X is quantized as QuantizeLinear(input_activation(X), x_scale, int8 0)
//   (or x_dynamic = 1: X is quantized as DynamicQuantizeLinear(input_activation(X)), uint8
//   with the scale and zero point of X's range, computed on every run)
//   w_scale  floats  W (input 1, int8) is DequantizeLinear(W, w_scale, 0) per output channel
//                    (one value per output channel, or one for all)
// and computes exactly what the float op computes on DequantizeLinear(QuantizeLinear(X)) and
// DequantizeLinear(W). The kernels quantize X (input activation, layout change and padding in
// the same loop) and sum int8 products in int32, scaled by x_scale * w_scale[c]: narrow convs in
// a tiled AVX-512 VNNI kernel (int8_conv_tiled.hpp), the rest in oneDNN's int8 primitives; the
// reference is dequantize-then-float.
#pragma once

#include <vector>

#include "graph/ir.hpp"
#include "ops/kernel.hpp"

namespace amphora {

// The quantization a node asks for; `present` is false for float nodes.
struct Int8Scales {
  bool present = false;
  bool dynamic = false;        // x_dynamic: X's scale and zero point come from its range per run
  float x_scale = 1.0f;        // static only
  std::vector<float> w_scale;  // per output channel, or one value

  // w_scale of output channel c.
  float w(int64_t c) const { return w_scale.size() == 1 ? w_scale[0] : w_scale[c]; }
};

// Whether the node is an int8 variant (has x_scale or x_dynamic).
bool is_int8_node(const Node& node);
// Parses and checks x_scale (positive) or x_dynamic, and w_scale (non-zero; negative after a folded
// layer scale), all finite, failing naming the node.
Int8Scales parse_int8_scales(const Node& node);
// Fails naming the node unless W is int8 and w_scale has 1 or `out_channels` values.
void check_int8_weights(const Node& node, const Int8Scales& scales, const Tensor& w,
                        int64_t out_channels);

// Whether oneDNN's int8 kernels compute exact int32 sums on this machine: with VNNI. Without it
// they multiply with vpmaddubsw, whose int16 pair sums saturate; the int8 kernels then run the
// float fast paths on the same quantized values instead (int8_conv_onednn.cpp).
bool int8_kernels_exact();

// Kernels for int8 FusedConv / FusedConvTranspose (int8_conv_kernel.cpp) and FusedMatMul
// (int8_matmul.cpp); the float ops' factories hand int8 nodes to these.
std::unique_ptr<Kernel> make_int8_conv_kernel(const Node& node, bool transpose,
                                              const KernelOptions& options);
std::unique_ptr<Kernel> make_int8_matmul_kernel(const Node& node, const KernelOptions& options);

}  // namespace amphora
