// amphora IR -> ONNX: the inverse of onnx_import for everything the IR holds (nodes, attributes,
// initializers, declared inputs and outputs, opsets, metadata). `amphora optimize` and
// `amphora quantize` write their models with it. Intermediate value_info is not written: after
// a rewrite it may be stale, and every reader infers it again.
#pragma once

#include <set>
#include <string>

#include "graph/ir.hpp"

namespace amphora {

struct OnnxWriteOptions {
  // float32 initializers to store as float16 (rounded to nearest even); the graph must read
  // them through a Cast to float, as `amphora quantize --fp16` arranges.
  std::set<std::string> float16_initializers;
};

// Serialized ModelProto bytes.
std::string serialize_onnx(const Graph& graph, const OnnxWriteOptions& options = {});

// Writes the model to `path` through a temporary file in the same directory renamed over it,
// so a failure (full disk, bad directory) never leaves a truncated model behind. Fails with kIo
// naming the path.
void save_onnx(const Graph& graph, const std::string& path, const OnnxWriteOptions& options = {});

}  // namespace amphora
