// Ops that select or reorder elements: Transpose, Gather, GatherElements, Slice.
#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>
#include <optional>

#include "ops/avx2_lanes.hpp"
#include "ops/elementwise/elementwise_common.hpp"
#include "ops/shape/shape_common.hpp"

namespace amphora {
namespace {

// A transpose that, once size-1 axes are dropped and axes that stay neighbours are merged, swaps
// the last two of [batch, rows, cols] (or of [rows, cols]): Vocos' [B, C, T] <-> [B, T, C]
// around every ConvNeXt block. Returns {batch, rows, cols}, or nothing for other permutations.
std::optional<std::array<int64_t, 3>> as_batched_swap(const Shape& shape,
                                                      const std::vector<int64_t>& perm) {
  // Input axes of size > 1 are renumbered 0..n-1; `sizes` holds their sizes in that order.
  std::vector<int64_t> rank(shape.size(), -1), sizes;
  for (size_t a = 0; a < shape.size(); ++a) {
    if (shape[a] == 1) continue;
    rank[a] = static_cast<int64_t>(sizes.size());
    sizes.push_back(shape[a]);
  }
  // Walking the output, runs of consecutive input axes merge: (first input rank, product).
  std::vector<std::pair<int64_t, int64_t>> groups;
  int64_t previous = -2;
  for (int64_t axis : perm) {
    const int64_t r = rank[static_cast<size_t>(axis)];
    if (r < 0) continue;
    if (r == previous + 1) {
      groups.back().second *= sizes[static_cast<size_t>(r)];
    } else {
      groups.push_back({r, sizes[static_cast<size_t>(r)]});
    }
    previous = r;
  }
  auto before = [&](size_t a, size_t b) { return groups[a].first < groups[b].first; };
  if (groups.size() == 2 && before(1, 0)) {
    return std::array<int64_t, 3>{1, groups[1].second, groups[0].second};
  }
  if (groups.size() == 3 && before(0, 2) && before(2, 1)) {
    return std::array<int64_t, 3>{groups[0].second, groups[2].second, groups[1].second};
  }
  return std::nullopt;
}

// out[b][c][r] = in[b][r][c] for 4-byte elements, in 16x16 tiles (strided reads and writes both
// stay in cache) spread over the threads; whole 8x8 blocks of a tile go through registers
// (transpose8x8: eight row loads, eight column stores), the ragged edges element by element.
void transpose_batched(const uint32_t* in, uint32_t* out, int64_t batch, int64_t rows,
                       int64_t cols) {
  constexpr int64_t kTile = 16;
  const int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
#pragma omp parallel for collapse(2) schedule(static) if (batch * rows * cols > kParallelElements)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t tile = 0; tile < row_tiles * col_tiles; ++tile) {
      const int64_t r0 = tile / col_tiles * kTile, c0 = tile % col_tiles * kTile;
      const int64_t r1 = std::min(rows, r0 + kTile), c1 = std::min(cols, c0 + kTile);
      const uint32_t* src = in + b * rows * cols;
      uint32_t* dst = out + b * rows * cols;
      const int64_t r_whole = r0 + (r1 - r0) / 8 * 8, c_whole = c0 + (c1 - c0) / 8 * 8;
      for (int64_t r = r0; r < r_whole; r += 8) {
        for (int64_t c = c0; c < c_whole; c += 8) {
          __m256 v[8];
          for (int i = 0; i < 8; ++i) {
            v[i] = _mm256_loadu_ps(reinterpret_cast<const float*>(src + (r + i) * cols + c));
          }
          transpose8x8(v);
          for (int i = 0; i < 8; ++i) {
            _mm256_storeu_ps(reinterpret_cast<float*>(dst + (c + i) * rows + r), v[i]);
          }
        }
      }
      for (int64_t c = c0; c < c1; ++c) {
        const bool whole_column = c < c_whole;
        for (int64_t r = whole_column ? r_whole : r0; r < r1; ++r) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

std::unique_ptr<Kernel> make_transpose(const Node& node, int64_t, const KernelOptions& options) {
  std::vector<int64_t> perm_attr = node.get_ints("perm");
  const bool reference = options.reference;
  return make_function_kernel([node, perm_attr,
                               reference](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 1, 1);
    const Tensor& data = *inputs[0];
    std::vector<int64_t> perm = perm_attr;
    if (perm.empty()) {  // default: reverse the axes
      perm.resize(data.shape().size());
      std::iota(perm.rbegin(), perm.rend(), 0);
    }
    if (static_cast<int64_t>(perm.size()) != data.rank()) {
      fail(ErrorCode::kInvalidArgument, "{}: perm has {} entries but the input {} has rank {}",
           node.display_name(), perm.size(), shape_str(data.shape()), data.rank());
    }
    perm = normalize_axes(node, perm, data.rank());  // also rejects repeats
    std::vector<int64_t> in_strides = contiguous_strides(data.shape());
    Shape out_shape(perm.size());
    for (size_t a = 0; a < perm.size(); ++a)
      out_shape[a] = data.shape()[static_cast<size_t>(perm[a])];
    if (!reference && dtype_size(data.dtype()) == 4) {
      if (auto swap = as_batched_swap(data.shape(), perm)) {
        Tensor out = Tensor::uninitialized(data.dtype(), out_shape);
        transpose_batched(static_cast<const uint32_t*>(data.raw()),
                          static_cast<uint32_t*>(out.raw()), (*swap)[0], (*swap)[1], (*swap)[2]);
        return std::vector<Tensor>{out};
      }
    }
    AxisOffsets offsets(perm.size());
    for (size_t a = 0; a < perm.size(); ++a) {
      const size_t from = static_cast<size_t>(perm[a]);
      for (int64_t i = 0; i < out_shape[a]; ++i) offsets[a].push_back(i * in_strides[from]);
    }
    return std::vector<Tensor>{gather_by_axis(data, out_shape, offsets)};
  });
}

std::unique_ptr<Kernel> make_gather(const Node& node, int64_t, const KernelOptions&) {
  int64_t axis_attr = node.get_int("axis", 0);
  return make_function_kernel([node, axis_attr](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 2, 2);
    const Tensor& data = *inputs[0];
    const Tensor& indices_tensor = *inputs[1];
    int64_t axis = normalize_axis(node, axis_attr, data.rank());
    std::vector<int64_t> indices = read_int_input(node, indices_tensor, "indices");
    const Shape& shape = data.shape();
    int64_t axis_dim = shape[static_cast<size_t>(axis)];
    for (int64_t& index : indices) {
      if (index < -axis_dim || index >= axis_dim) {
        fail(ErrorCode::kInvalidArgument,
             "{}: index {} is out of range for axis {} of size {} (data shape {})",
             node.display_name(), index, axis, axis_dim, shape_str(shape));
      }
      if (index < 0) index += axis_dim;
    }
    Shape out_shape(shape.begin(), shape.begin() + axis);
    out_shape.insert(out_shape.end(), indices_tensor.shape().begin(), indices_tensor.shape().end());
    out_shape.insert(out_shape.end(), shape.begin() + axis + 1, shape.end());
    Tensor out(data.dtype(), out_shape);

    int64_t outer = shape_numel(Shape(shape.begin(), shape.begin() + axis));
    size_t slice_bytes =
        static_cast<size_t>(shape_numel(Shape(shape.begin() + axis + 1, shape.end()))) *
        dtype_size(data.dtype());
    const auto* src = static_cast<const std::byte*>(data.raw());
    auto* dst = static_cast<std::byte*>(out.raw());
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t index : indices) {
        std::memcpy(dst, src + static_cast<size_t>(o * axis_dim + index) * slice_bytes,
                    slice_bytes);
        dst += slice_bytes;
      }
    }
    return std::vector<Tensor>{out};
  });
}

// GatherElements: out[i][j][k] = data[i][index[i][j][k]][k] for axis 1 (likewise on any axis);
// indices has data's rank and its dims may be smaller than data's on every axis.
std::unique_ptr<Kernel> make_gather_elements(const Node& node, int64_t, const KernelOptions&) {
  const int64_t axis_attr = node.get_int("axis", 0);
  return make_function_kernel([node, axis_attr](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, 2, 2);
    const Tensor& data = *inputs[0];
    const Tensor& indices_tensor = *inputs[1];
    const int64_t axis = normalize_axis(node, axis_attr, data.rank());
    const Shape& shape = data.shape();
    const Shape& out_shape = indices_tensor.shape();
    if (indices_tensor.rank() != data.rank()) {
      fail(ErrorCode::kInvalidArgument, "{}: indices {} must have the rank of data {}",
           node.display_name(), shape_str(out_shape), shape_str(shape));
    }
    for (int64_t a = 0; a < data.rank(); ++a) {
      if (a != axis && out_shape[a] > shape[a]) {
        fail(ErrorCode::kInvalidArgument, "{}: indices {} exceed data {} on axis {}",
             node.display_name(), shape_str(out_shape), shape_str(shape), a);
      }
    }
    const std::vector<int64_t> indices = read_int_input(node, indices_tensor, "indices");
    const int64_t rank = data.rank(), axis_dim = shape[axis];
    std::vector<int64_t> data_strides(rank, 1);
    for (int64_t a = rank - 2; a >= 0; --a) data_strides[a] = data_strides[a + 1] * shape[a + 1];
    Tensor out(data.dtype(), out_shape);
    const size_t element = dtype_size(data.dtype());
    const auto* src = static_cast<const std::byte*>(data.raw());
    auto* dst = static_cast<std::byte*>(out.raw());
    std::vector<int64_t> position(rank, 0);  // the output element's coordinates
    for (size_t n = 0; n < indices.size(); ++n) {
      int64_t index = indices[n];
      if (index < -axis_dim || index >= axis_dim) {
        fail(ErrorCode::kInvalidArgument,
             "{}: index {} is out of range for axis {} of size {} (data shape {})",
             node.display_name(), index, axis, axis_dim, shape_str(shape));
      }
      if (index < 0) index += axis_dim;
      int64_t offset = 0;
      for (int64_t a = 0; a < rank; ++a) offset += (a == axis ? index : position[a]) * data_strides[a];
      std::memcpy(dst + n * element, src + offset * element, element);
      for (int64_t a = rank - 1; a >= 0 && ++position[a] == out_shape[a]; --a) position[a] = 0;
    }
    return std::vector<Tensor>{out};
  });
}

// Per-axis ONNX Slice parameters after clamping: the output takes `count` elements starting
// at `start` every `step`.
struct AxisSlice {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};

AxisSlice clamp_slice(int64_t start, int64_t end, int64_t step, int64_t dim) {
  // Negative starts/ends count from the end; INT64_MIN/MAX mean "to the edge". The clamping
  // range differs with the direction so that a reverse slice can reach index 0.
  if (dim == 0) return {0, step, 0};
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
  }
  int64_t span = step > 0 ? end - start : start - end;
  // Written so that steps near INT64_MIN/MAX cannot overflow.
  int64_t stride = step > 0 ? step : (step == INT64_MIN ? INT64_MAX : -step);
  return {start, step, span > 0 ? (span - 1) / stride + 1 : 0};
}

std::unique_ptr<Kernel> make_slice(const Node& node, int64_t opset, const KernelOptions&) {
  bool from_inputs = opset >= 10;
  std::vector<int64_t> attr_starts = node.get_ints("starts");
  std::vector<int64_t> attr_ends = node.get_ints("ends");
  std::vector<int64_t> attr_axes = node.get_ints("axes");
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, from_inputs ? 3 : 1, from_inputs ? 5 : 1);
    const Tensor& data = *inputs[0];
    std::vector<int64_t> starts = attr_starts, ends = attr_ends, axes = attr_axes, steps;
    if (from_inputs) {
      starts = read_int_input(node, *inputs[1], "starts");
      ends = read_int_input(node, *inputs[2], "ends");
      if (const Tensor* t = optional_input(inputs, 3)) axes = read_int_input(node, *t, "axes");
      if (const Tensor* t = optional_input(inputs, 4)) steps = read_int_input(node, *t, "steps");
    }
    if (axes.empty()) {
      axes.resize(starts.size());
      std::iota(axes.begin(), axes.end(), 0);
    }
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size()) {
      fail(ErrorCode::kInvalidArgument,
           "{}: starts, ends, axes and steps have different lengths ({}, {}, {}, {})",
           node.display_name(), starts.size(), ends.size(), axes.size(), steps.size());
    }
    axes = normalize_axes(node, axes, data.rank());

    Shape out_shape = data.shape();
    std::vector<AxisSlice> slices(out_shape.size());
    for (size_t a = 0; a < slices.size(); ++a) slices[a].count = out_shape[a];
    for (size_t i = 0; i < axes.size(); ++i) {
      if (steps[i] == 0) {
        fail(ErrorCode::kInvalidArgument, "{}: step 0 on axis {}", node.display_name(), axes[i]);
      }
      size_t a = static_cast<size_t>(axes[i]);
      slices[a] = clamp_slice(starts[i], ends[i], steps[i], out_shape[a]);
      out_shape[a] = slices[a].count;
    }
    std::vector<int64_t> strides = contiguous_strides(data.shape());
    AxisOffsets offsets(out_shape.size());
    for (size_t a = 0; a < out_shape.size(); ++a) {
      for (int64_t i = 0; i < slices[a].count; ++i) {
        offsets[a].push_back((slices[a].start + i * slices[a].step) * strides[a]);
      }
    }
    return std::vector<Tensor>{gather_by_axis(data, out_shape, offsets)};
  });
}

}  // namespace

void register_shape_index_ops(OpRegistry& registry) {
  registry.add("", "Transpose", 1, make_transpose);
  registry.add("", "Gather", 1, make_gather);
  registry.add("", "GatherElements", 11, make_gather_elements);
  registry.add("", "Slice", 1, make_slice);
}

}  // namespace amphora
