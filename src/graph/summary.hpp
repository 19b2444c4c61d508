// What `amphora inspect` reports about a graph: op histogram and parameter count.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph/ir.hpp"

namespace amphora {

struct OpCount {
  std::string domain;  // "" for ai.onnx
  std::string op_type;
  int64_t count = 0;
};

struct GraphSummary {
  size_t node_count = 0;
  std::vector<OpCount> ops;     // most frequent first, then by name
  int64_t parameters = 0;       // elements in initializers and Constant-node tensors
  int64_t parameter_bytes = 0;  // their storage in bytes
  size_t initializer_count = 0;
};

GraphSummary summarize(const Graph& graph);

// "[batch, 80, frames]", "[?]" for an unknown rank, "?" for an unknown dim.
std::string dims_to_string(const ValueInfo& value);

}  // namespace amphora
