#include "ops/shape/shape_common.hpp"

#include <algorithm>
#include <cstring>
#include <set>

namespace amphora {

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t a = shape.size(); a-- > 1;) strides[a - 1] = strides[a] * shape[a];
  return strides;
}

namespace {

// A maximal stretch of the innermost axis whose input offsets are consecutive (copied with one
// memcpy) or all -1 (filled). Pads and slices with step 1 become one to three runs per row.
struct Run {
  int64_t length;
  int64_t in_offset;  // -1: fill
};

std::vector<Run> innermost_runs(const std::vector<int64_t>& offsets) {
  std::vector<Run> runs;
  for (int64_t off : offsets) {
    if (!runs.empty()) {
      Run& last = runs.back();
      bool extends_fill = off < 0 && last.in_offset < 0;
      bool extends_copy = off >= 0 && last.in_offset >= 0 && off == last.in_offset + last.length;
      if (extends_fill || extends_copy) {
        ++last.length;
        continue;
      }
    }
    runs.push_back({1, off < 0 ? -1 : off});
  }
  return runs;
}

// Walks the output in C order. The element size is a template parameter so that single-element
// runs (a transposed innermost axis, nearest upsampling) copy with one move, not a memcpy call.
template <size_t kElementSize>
class AxisGatherer {
 public:
  AxisGatherer(const std::byte* in, std::byte* out, const Shape& out_shape,
               const AxisOffsets& offsets, const std::byte* fill)
      : in_(in),
        out_(out),
        out_shape_(out_shape),
        offsets_(offsets),
        fill_(fill),
        block_(out_shape.size() + 1, 1),
        runs_(innermost_runs(offsets.back())) {
    for (size_t a = out_shape.size(); a-- > 0;) block_[a] = block_[a + 1] * out_shape[a];
    if (out_shape.size() >= 2 && runs_.size() > 1 &&
        static_cast<int64_t>(runs_.size()) == out_shape.back()) {
      const std::vector<int64_t>& rows = offsets[out_shape.size() - 2];
      scattered_inner_ =
          std::all_of(runs_.begin(), runs_.end(), [](const Run& r) { return r.in_offset >= 0; }) &&
          std::all_of(rows.begin(), rows.end(), [](int64_t o) { return o >= 0; });
    }
  }

  void walk(size_t axis, int64_t base) {
    if (axis + 2 == out_shape_.size() && scattered_inner_) {
      walk_tiles(axis, base);
      return;
    }
    if (axis + 1 == out_shape_.size()) {
      for (const Run& run : runs_) {
        if (run.in_offset < 0) {
          write_fill(run.length);
        } else if (run.length == 1) {
          std::memcpy(out_, in_ + static_cast<size_t>(base + run.in_offset) * kElementSize,
                      kElementSize);
          out_ += kElementSize;
        } else {
          size_t bytes = static_cast<size_t>(run.length) * kElementSize;
          std::memcpy(out_, in_ + static_cast<size_t>(base + run.in_offset) * kElementSize, bytes);
          out_ += bytes;
        }
      }
      return;
    }
    for (int64_t off : offsets_[axis]) {
      if (off < 0) {
        write_fill(block_[axis + 1]);
      } else {
        walk(axis + 1, base + off);
      }
    }
  }

 private:
  // The last two axes when the innermost one reads scattered elements (a transpose): copying
  // 32x32 tiles keeps both the strided reads and the writes in cache, which is several times
  // faster on [C, T] audio tensors than walking output rows.
  void walk_tiles(size_t axis, int64_t base) {
    constexpr int64_t kTile = 32;
    const std::vector<int64_t>& row_offsets = offsets_[axis];
    const std::vector<int64_t>& col_offsets = offsets_[axis + 1];
    int64_t rows = out_shape_[axis], cols = out_shape_[axis + 1];
    for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
      for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
        for (int64_t i = i0; i < std::min(rows, i0 + kTile); ++i) {
          std::byte* dst = out_ + static_cast<size_t>(i * cols + j0) * kElementSize;
          const std::byte* src = in_ + static_cast<size_t>(base + row_offsets[i]) * kElementSize;
          for (int64_t j = j0; j < std::min(cols, j0 + kTile); ++j, dst += kElementSize) {
            std::memcpy(dst, src + static_cast<size_t>(col_offsets[j]) * kElementSize,
                        kElementSize);
          }
        }
      }
    }
    out_ += static_cast<size_t>(rows * cols) * kElementSize;
  }

  void write_fill(int64_t count) {
    for (int64_t i = 0; i < count; ++i, out_ += kElementSize) {
      std::memcpy(out_, fill_, kElementSize);
    }
  }

  const std::byte* in_;
  std::byte* out_;
  const Shape& out_shape_;
  const AxisOffsets& offsets_;
  const std::byte* fill_;
  std::vector<int64_t> block_;  // elements of one output slice below each axis
  std::vector<Run> runs_;
  bool scattered_inner_ = false;  // innermost runs are all single elements, none filled
};

template <size_t kElementSize>
void gather_walk(const std::byte* in, std::byte* out, const Shape& out_shape,
                 const AxisOffsets& offsets, const void* fill) {
  AxisGatherer<kElementSize>(in, out, out_shape, offsets, static_cast<const std::byte*>(fill))
      .walk(0, 0);
}

}  // namespace

Tensor gather_by_axis(const Tensor& in, const Shape& out_shape, const AxisOffsets& offsets,
                      const void* fill) {
  if (offsets.size() != out_shape.size()) {
    fail(ErrorCode::kInternal, "gather_by_axis: {} offset tables for output shape {}",
         offsets.size(), shape_str(out_shape));
  }
  bool needs_fill = false;
  for (size_t a = 0; a < offsets.size(); ++a) {
    if (static_cast<int64_t>(offsets[a].size()) != out_shape[a]) {
      fail(ErrorCode::kInternal, "gather_by_axis: axis {} has {} offsets for size {}", a,
           offsets[a].size(), out_shape[a]);
    }
    for (int64_t off : offsets[a]) needs_fill = needs_fill || off < 0;
  }
  if (needs_fill && !fill) fail(ErrorCode::kInternal, "gather_by_axis: fill value missing");

  Tensor out(in.dtype(), out_shape);
  size_t element_size = dtype_size(in.dtype());
  if (out.numel() == 0) return out;
  const auto* src = static_cast<const std::byte*>(in.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  if (out_shape.empty()) {
    std::memcpy(dst, src, element_size);
    return out;
  }
  switch (element_size) {
    case 1:
      gather_walk<1>(src, dst, out_shape, offsets, fill);
      break;
    case 2:
      gather_walk<2>(src, dst, out_shape, offsets, fill);
      break;
    case 4:
      gather_walk<4>(src, dst, out_shape, offsets, fill);
      break;
    case 8:
      gather_walk<8>(src, dst, out_shape, offsets, fill);
      break;
    default:
      fail(ErrorCode::kInternal, "gather_by_axis: element size {}", element_size);
  }
  return out;
}

std::array<std::byte, 8> element_bytes(DType dtype, double value) {
  std::array<std::byte, 8> bytes{};
  visit_dtype(dtype, [&](auto zero) {
    auto v = static_cast<decltype(zero)>(value);
    std::memcpy(bytes.data(), &v, sizeof(v));
  });
  return bytes;
}

std::vector<int64_t> read_int_input(const Node& node, const Tensor& tensor, const char* what) {
  if (tensor.dtype() != DType::kInt64 && tensor.dtype() != DType::kInt32) {
    fail(ErrorCode::kInvalidArgument, "{}: input '{}' must be int64 (or int32), got {}",
         node.display_name(), what, dtype_name(tensor.dtype()));
  }
  return tensor.to_int64_vector();
}

std::vector<int64_t> normalize_axes(const Node& node, const std::vector<int64_t>& axes,
                                    int64_t rank) {
  std::vector<int64_t> out;
  std::set<int64_t> seen;
  for (int64_t axis : axes) {
    int64_t a = normalize_axis(node, axis, rank);
    if (!seen.insert(a).second) {
      fail(ErrorCode::kInvalidModel, "{}: axis {} is repeated", node.display_name(), axis);
    }
    out.push_back(a);
  }
  return out;
}

void expect_dtype(const Node& node, const Tensor& tensor, DType dtype, const char* what) {
  if (tensor.dtype() != dtype) {
    fail(ErrorCode::kInvalidArgument, "{}: input '{}' must be {}, got {}", node.display_name(),
         what, dtype_name(dtype), dtype_name(tensor.dtype()));
  }
}

}  // namespace amphora
