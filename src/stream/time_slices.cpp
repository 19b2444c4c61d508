#include "stream/time_slices.hpp"

#include <cstring>

namespace amphora::stream {

namespace {

constexpr size_t kParallelBytes = size_t{1} << 17;  // below this a copy is cheaper than a fork

// (outer, inner) element counts around `axis`; rows of `inner` elements are contiguous.
std::pair<int64_t, int64_t> around(const Shape& shape, int64_t axis) {
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  return {outer, inner};
}

}  // namespace

Tensor slice_axis(const Tensor& tensor, int64_t axis, int64_t start, int64_t length) {
  const Shape& shape = tensor.shape();
  if (start < 0 || length < 0 || start + length > shape[axis]) {
    fail(ErrorCode::kInternal, "slice [{}, +{}) outside axis {} of {}", start, length, axis,
         shape_str(shape));
  }
  Shape out_shape = shape;
  out_shape[axis] = length;
  Tensor out = Tensor::uninitialized(tensor.dtype(), out_shape);
  // Not a structured binding: clang before 16 cannot use one inside an OpenMP region.
  const std::pair<int64_t, int64_t> extent = around(shape, axis);
  const int64_t outer = extent.first, inner = extent.second;
  const size_t element = dtype_size(tensor.dtype());
  const size_t row = static_cast<size_t>(length * inner) * element;
  const auto* src = static_cast<const std::byte*>(tensor.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  // Rows in parallel when there is enough to copy: on the stream's hot path this is serial
  // work that would otherwise leave the other threads waiting.
#pragma omp parallel for schedule(static) if (outer * row > kParallelBytes)
  for (int64_t o = 0; o < outer; ++o) {
    std::memcpy(dst + o * row, src + (o * shape[axis] + start) * inner * element, row);
  }
  return out;
}

Tensor concat_axis(const std::vector<Tensor>& parts, int64_t axis) {
  if (parts.empty()) fail(ErrorCode::kInternal, "concat of nothing");
  if (parts.size() == 1) return parts[0];
  Shape out_shape = parts[0].shape();
  out_shape[axis] = 0;
  for (const Tensor& part : parts) out_shape[axis] += part.dim(axis);
  Tensor out = Tensor::uninitialized(parts[0].dtype(), out_shape);
  // Not a structured binding: clang before 16 cannot use one inside an OpenMP region.
  const std::pair<int64_t, int64_t> extent = around(out_shape, axis);
  const int64_t outer = extent.first, inner = extent.second;
  const size_t element = dtype_size(out.dtype());
  auto* dst = static_cast<std::byte*>(out.raw());
  int64_t offset = 0;
  for (const Tensor& part : parts) {
    const size_t row = static_cast<size_t>(part.dim(axis) * inner) * element;
    const auto* src = static_cast<const std::byte*>(part.raw());
#pragma omp parallel for schedule(static) if (outer * row > kParallelBytes)
    for (int64_t o = 0; o < outer; ++o) {
      std::memcpy(dst + (o * out_shape[axis] + offset) * inner * element, src + o * row, row);
    }
    offset += part.dim(axis);
  }
  return out;
}

Tensor filled_along(const Tensor& like, int64_t axis, int64_t length, double value) {
  Shape shape = like.shape();
  shape[axis] = length;
  Tensor out(like.dtype(), shape);
  if (value == 0.0) return out;  // tensors start zero-filled
  switch (like.dtype()) {
    case DType::kFloat32: {
      float* p = out.data<float>();
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<float>(value);
      break;
    }
    case DType::kFloat64: {
      double* p = out.data<double>();
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = value;
      break;
    }
    case DType::kInt64: {
      int64_t* p = out.data<int64_t>();
      for (int64_t i = 0; i < out.numel(); ++i) p[i] = static_cast<int64_t>(value);
      break;
    }
    default:
      fail(ErrorCode::kUnsupported, "constant padding of a {} stream", dtype_name(like.dtype()));
  }
  return out;
}

}  // namespace amphora::stream
