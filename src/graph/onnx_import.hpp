// ONNX -> amphora IR. Parses the protobuf with Debian's libonnx, runs onnx::checker and ONNX
// shape inference (so the runtime knows the declared and inferred shapes, symbolic dims
// included), and converts everything into graph/ir.hpp types. This header does not expose
// protobuf: nothing above src/graph needs to know about it.
#pragma once

#include <string>

#include "graph/ir.hpp"

namespace amphora {

// Loads and checks an .onnx file. Fails with kIo (missing/unreadable file), kInvalidModel
// (truncated or corrupt protobuf, checker failure -- with the checker's message) or
// kUnsupported (external data, subgraph attributes, element types amphora does not store),
// always naming the file.
Graph load_onnx(const std::string& path);
// The same, from serialized ModelProto bytes; `source` names them in error messages.
Graph load_onnx_from_bytes(const std::string& bytes, const std::string& source = "<memory>");

// Reads one serialized onnx::TensorProto (.pb file, as in the ONNX backend test data).
Tensor load_onnx_tensor(const std::string& path);

}  // namespace amphora
