// The reduction family (register_reduce_ops) is split by meaning across reduce*.cpp; these are
// its parts and the pieces they share.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "graph/ir.hpp"
#include "ops/kernel.hpp"

namespace amphora {

void register_softmax_ops(OpRegistry& registry);        // reduce_softmax.cpp
void register_normalization_ops(OpRegistry& registry);  // reduce_layernorm.cpp
void register_cumsum_ops(OpRegistry& registry);         // reduce_cumsum.cpp

// Splits `shape` around `axis` into (product of the axes before, size of axis, product of the
// axes after), the loop bounds of every single-axis reduction.
struct AxisSplit {
  int64_t outer = 1;
  int64_t extent = 1;
  int64_t inner = 1;
};
AxisSplit split_at_axis(const Shape& shape, int64_t axis);

void register_reduce_stream_rules(OpRegistry& registry);  // reduce_stream.cpp

}  // namespace amphora
