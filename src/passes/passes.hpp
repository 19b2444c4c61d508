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
// constants -> com.amphora Snake (fuse_snake.cpp, ops/snake.hpp).
bool fuse_snake(Graph& graph);

// MatMul(x, W) + bias, then the exact GELU chain or a per-column scale Mul, with constant W,
// bias and scale -> com.amphora FusedMatMul (fuse_matmul.cpp, ops/matmul_fused.hpp).
bool fuse_matmul(Graph& graph);

// Nodes whose outputs nobody reads (and that are not graph outputs) are removed
// (dead_nodes.cpp).
bool remove_dead_nodes(Graph& graph);

// Runs every pass until none changes the graph; returns the number of rounds that changed it.
int optimize_graph(Graph& graph);

}  // namespace amphora
