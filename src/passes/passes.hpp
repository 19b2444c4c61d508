// Graph rewrites run by Session before it creates kernels (SessionOptions::optimize). Each pass
// lives in its own file, returns whether it changed the graph, and keeps the graph
// topologically sorted with the same inputs, outputs and results (up to float rounding of
// fused kernels). optimize_graph runs them to a fixed point. See README.md for the fused ops.
#pragma once

#include "graph/ir.hpp"

namespace amphora {

// Conv/ConvTranspose + following Relu/LeakyRelu/Tanh + following residual Add ->
// com.amphora FusedConv/FusedConvTranspose (fuse_conv.cpp).
bool fuse_conv(Graph& graph);

// QDQ-quantized Conv / ConvTranspose / MatMul (x through QuantizeLinear -> DequantizeLinear, int8
// weights through DequantizeLinear) -> the int8 com.amphora FusedConv / FusedConvTranspose /
// FusedMatMul (fuse_int8.cpp, ops/int8/int8.hpp). With `dynamic` (offline only), also X through
// DynamicQuantizeLinear -> DequantizeLinear. Must run before fold_constants.
bool fuse_int8(Graph& graph, bool dynamic);

// Relu/LeakyRelu -> Pad (reflect, edge, or constant 0) -> ... becomes Pad -> activation -> ...,
// so that the activation meets the conv after the pad (activation_past_pad.cpp). Rewrites one
// occurrence per call.
bool move_activation_past_pad(Graph& graph);

// BigVGAN's Snake/SnakeBeta chain Add(x, Mul(inv, Pow(Sin(Mul(x, freq)), 2))) with per-channel
// constants -> com.amphora Snake (fuse_snake.cpp, ops/elementwise/snake.hpp).
bool fuse_snake(Graph& graph);

// MatMul(x, W) + bias, then the exact GELU chain or a per-column scale Mul, with constant W,
// bias and scale -> com.amphora FusedMatMul (fuse_matmul.cpp, ops/matmul/matmul_fused.hpp).
bool fuse_matmul(Graph& graph);

// Attention over heads split by Reshape + Transpose (MatMul, scale, Softmax, MatMul, Transpose,
// Reshape) -> com.amphora Attention (fuse_attention.cpp, ops/attention/attention.hpp). Offline
// only: attention reads every step, so a streamed graph cannot hold it anyway.
bool fuse_attention(Graph& graph);

// Vocos' ConvNeXt blocks -> channels-last: depthwise Conv + Transpose + LayerNorm become one
// com.amphora DwConvLayerNorm on [N, T, C], the residual Add rides on the second FusedMatMul, and
// Transpose pairs that undo each other are bypassed (convnext_channels_last.cpp,
// ops/conv/conv_dw_norm.hpp). Runs after fuse_matmul.
bool convnext_channels_last(Graph& graph);

// Nodes whose inputs are all small constants (any constants with `any_size`) are run once and
// become initializers (fold_constants.cpp).
bool fold_constants(Graph& graph, bool any_size = false);

// Shape and Size of values whose dimensions are all known become constants (fold_shapes.cpp).
bool fold_shapes(Graph& graph);

// Identity, inference Dropout and Cast to the same type are removed (remove_identities.cpp).
bool remove_identities(Graph& graph);

// Conv -> BatchNormalization with constant statistics becomes one Conv (fold_batch_norm.cpp).
bool fold_batch_norm(Graph& graph);

// Pad(constant 0, spatial axes) -> Conv becomes the Conv with larger pads (fuse_pad.cpp).
// Offline only, as fuse_reflect_pad.
bool fuse_zero_pad(Graph& graph);

// MatMul(matrix, constant [K, N]) + constant bias [N] -> Gemm (fuse_gemm.cpp). Portable use
// only: the runtime's own fuse_matmul covers it.
bool fuse_gemm(Graph& graph);

// Pad(reflect, time axis) -> unpadded 1-D Conv becomes a FusedConv with pad_mode "reflect"
// (fuse_pad.cpp). Offline only: the streamer needs the Pad node.
bool fuse_reflect_pad(Graph& graph);

// Nodes whose outputs nobody reads (and that are not graph outputs) are removed
// (dead_nodes.cpp).
bool remove_dead_nodes(Graph& graph);

// Who will run the optimized graph: a Session over whole inputs; the streamer, which some
// rewrites would defeat; or any ONNX runtime, for `amphora optimize`, which writes the graph
// back to a file: only rewrites whose result is standard ONNX (no com.amphora ops).
enum class GraphUse { kOffline, kStreaming, kPortable };

// Runs every pass for `use` until none changes the graph; returns the number of rounds that
// changed it.
int optimize_graph(Graph& graph, GraphUse use = GraphUse::kOffline);

}  // namespace amphora
