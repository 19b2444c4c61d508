// The execution core: the one place that turns graph nodes into kernels and runs them, for every
// way a graph is executed -- Session's whole-input runs, the streaming analysis's probe runs and
// the GraphStreamer's pushes. It registers the op families, names the node in every error, and
// sets the intra-op thread count.
//
// A model's lifecycle, in the order the runtime goes through it:
//   1. load       graph/onnx_import: ONNX file -> Graph (checked, shapes inferred)
//   2. optimize   prepare_graph: the passes for one use (offline runs, or streaming, which keeps
//                 the nodes the streamer needs to see, such as reflect Pads)
//   3. kernels    create_kernel, once per node: attributes are checked and weights packed here,
//                 so a bad model fails at load, not on its first run
//   4. plan       per set of input shapes: Session's ShapePlan (symbols, size checks), the
//                 streamer's StreamPlan; kernels keep their own per-shape plans (oneDNN
//                 primitives) keyed by shape, so new shapes re-plan without new kernels
//   5. run        run_node for each node, in order
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "graph/ir.hpp"
#include "ops/kernel.hpp"
#include "passes/passes.hpp"

namespace amphora {

// Step 2: the graph optimized for `use` (unchanged when `optimize` is false: the reference for
// the passes' tests, and what --reference runs).
Graph prepare_graph(Graph imported, GraphUse use, bool optimize);

// Step 3: the kernel of `node` (which may be a rewritten copy of a graph node, as the streamer
// makes for convolutions), for the opset `graph` imports its domain at.
std::unique_ptr<Kernel> create_kernel(const Graph& graph, const Node& node,
                                      const KernelOptions& options);

// Step 5: runs one node. Any failure, also one from deep inside (Tensor's size guard,
// std::bad_alloc, oneDNN), is rethrown as amphora::Error naming the node, after `context`
// ("streaming", "probing for streaming") when given.
std::vector<Tensor> run_node(Kernel& kernel, const Node& node,
                             const std::vector<const Tensor*>& inputs, const char* context = "");

// The same for another entry point of a node's kernel (the streamer's PiecewiseConv): errors
// from `compute` are named as run_node names them.
std::vector<Tensor> run_named(const Node& node, const std::function<std::vector<Tensor>()>& compute,
                              const char* context = "");

// Intra-op threads for the parallel regions that follow on this thread; 0 keeps the default.
void use_threads(int threads);

}  // namespace amphora
