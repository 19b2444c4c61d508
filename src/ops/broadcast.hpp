// Multidirectional (numpy-style) broadcasting as ONNX defines it: shapes are aligned at their
// trailing axes; each axis must be equal or 1 in every input; the result takes the larger size.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "graph/ir.hpp"

namespace amphora {

// The broadcast result of `shapes`. Fails with kInvalidArgument naming the node and every
// shape when two sizes on one axis differ and neither is 1.
Shape broadcast_shapes(const Node& node, const std::vector<Shape>& shapes);

// Element strides of a tensor of shape `in` viewed as shape `out` (`in` broadcastable to `out`):
// one entry per axis of `out`, 0 on axes that `in` lacks or has as size 1, so that
// sum(index[i] * stride[i]) is the offset of the input element feeding output index `index`.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Input offsets for every output element, in C order: offsets[k] is the element of a tensor
// with `strides` (from broadcast_strides) that output element k reads. Cheap enough for the
// reference kernels and keeps the inner loops free of index arithmetic.
std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& strides, const Shape& out);

// Walks the output of a broadcast in C order while tracking one offset per input; used where
// materialising offsets would be wasteful. Typical use:
//   BroadcastCursor cursor(out_shape, {strides_a, strides_b});
//   for (int64_t k = 0; k < n; ++k, cursor.next()) out[k] = a[cursor.offset(0)] +
//   b[cursor.offset(1)];
class BroadcastCursor {
 public:
  BroadcastCursor(const Shape& out, std::vector<std::vector<int64_t>> strides);
  int64_t offset(size_t input) const { return offsets_[input]; }
  void next();

 private:
  Shape out_;
  std::vector<std::vector<int64_t>> strides_;
  std::vector<int64_t> index_;
  std::vector<int64_t> offsets_;
};

}  // namespace amphora
