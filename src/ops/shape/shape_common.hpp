// Shared machinery of the data-movement kernels (shape_*.cpp, pad_resize.cpp, resize.cpp).
//
// Most of these ops (Transpose, Slice, Expand, Tile, Pad, nearest Resize) are the same
// computation: every output axis maps each of its indices to an input offset independently of
// the other axes. gather_by_axis() runs that mapping once for any dtype by copying element
// bytes, so each op only builds its per-axis tables and stays a few lines of ONNX semantics.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "graph/ir.hpp"
#include "ops/kernel.hpp"

namespace amphora {

// Element strides of a C-order tensor of `shape`.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// Per-axis input offsets: axis_offsets[a][i] is the element offset (index * stride) that output
// index i on axis a contributes, or -1 when that output slice lies outside the input and takes
// `fill`. The output element at (i0, i1, ...) reads input[sum_a axis_offsets[a][i_a]].
using AxisOffsets = std::vector<std::vector<int64_t>>;

// Builds a tensor of `out_shape` (dtype of `in`) from `in` through `offsets`. `fill` points to
// one element of the input's dtype; it is required only when some offset is -1.
Tensor gather_by_axis(const Tensor& in, const Shape& out_shape, const AxisOffsets& offsets,
                      const void* fill = nullptr);

// One element of `dtype` holding `value` (converted as static_cast does), as bytes; the fill
// value of gather_by_axis for Pad's constant and Resize's extrapolation value.
std::array<std::byte, 8> element_bytes(DType dtype, double value);

// Values of an integer input (shape, axes, pads, repeats, indices); fails with
// kInvalidArgument naming the node and `what` when the tensor is not an integer tensor.
std::vector<int64_t> read_int_input(const Node& node, const Tensor& tensor, const char* what);

// The shape Reshape gives `in` for the target `requested`: 0 copies the input's dim (unless
// allow_zero), one -1 is inferred. Fails naming the node when the target does not fit.
Shape reshape_target(const Node& node, const Shape& in, const std::vector<int64_t>& requested,
                     bool allow_zero);

// The input at `index` or nullptr when absent (past the end or an empty name).
inline const Tensor* optional_input(const std::vector<const Tensor*>& inputs, size_t index) {
  return index < inputs.size() ? inputs[index] : nullptr;
}

// Normalises `axes` against `rank` (negative axes count from the end); fails naming the node when
// an axis is out of range or repeated.
std::vector<int64_t> normalize_axes(const Node& node, const std::vector<int64_t>& axes,
                                    int64_t rank);

// Fails with kInvalidArgument naming the node when `tensor` is not of `dtype`.
void expect_dtype(const Node& node, const Tensor& tensor, DType dtype, const char* what);

// Wraps a lambda of the node's inputs into a Kernel.
template <typename Fn>
std::unique_ptr<Kernel> make_function_kernel(Fn fn) {
  return std::make_unique<FunctionKernel>(FunctionKernel::Fn(std::move(fn)));
}

// Registration of the op groups split over several files; register_shape_ops() calls them.
void register_shape_view_ops(OpRegistry& registry);      // Reshape, (Un)Squeeze, Flatten, ...
void register_shape_index_ops(OpRegistry& registry);     // Transpose, Gather, Slice
void register_shape_join_ops(OpRegistry& registry);      // Concat, Split, Tile, Expand
void register_shape_constant_ops(OpRegistry& registry);  // Constant, ConstantOfShape, Range

void register_shape_stream_rules(OpRegistry& registry);  // shape_stream.cpp

}  // namespace amphora
