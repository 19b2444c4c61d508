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

// Vocos' ConvNeXt blocks -> channels-last: depthwise Conv + Transpose + LayerNorm become one
// com.amphora DwConvLayerNorm on [N, T, C], the residual Add rides on the second FusedMatMul, and
// Transpose pairs that undo each other are bypassed (convnext_channels_last.cpp,
// ops/conv/conv_dw_norm.hpp). Runs after fuse_matmul.
bool convnext_channels_last(Graph& graph);

// Nodes whose inputs are all small constants are run once and become initializers
// (fold_constants.cpp).
bool fold_constants(Graph& graph);

// Pad(reflect, time axis) -> unpadded 1-D Conv becomes a FusedConv with pad_mode "reflect"
// (fuse_pad.cpp). Offline only: the streamer needs the Pad node.
bool fuse_reflect_pad(Graph& graph);

// Nodes whose outputs nobody reads (and that are not graph outputs) are removed
// (dead_nodes.cpp).
bool remove_dead_nodes(Graph& graph);

// Who will run the optimized graph: a Session over whole inputs, or the streamer, which some
// rewrites would defeat.
enum class GraphUse { kOffline, kStreaming };

// Runs every pass for `use` until none changes the graph; returns the number of rounds that
// changed it.
int optimize_graph(Graph& graph, GraphUse use = GraphUse::kOffline);

}  // namespace amphora
