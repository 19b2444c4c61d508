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

Tensor join_axis(const std::vector<AxisSpan>& spans, const Tensor& like, int64_t axis) {
  Shape out_shape = like.shape();
  out_shape[axis] = 0;
  for (const AxisSpan& span : spans) {
    if (span.source && (span.start < 0 || span.length < 0 ||
                        span.start + span.length > span.source->dim(axis))) {
      fail(ErrorCode::kInternal, "slice [{}, +{}) outside axis {} of {}", span.start, span.length,
           axis, shape_str(span.source->shape()));
    }
    out_shape[axis] += span.length;
  }
  Tensor out = Tensor::uninitialized(like.dtype(), out_shape);
  // Not a structured binding: clang before 16 cannot use one inside an OpenMP region.
  const std::pair<int64_t, int64_t> extent = around(out_shape, axis);
  const int64_t outer = extent.first, inner = extent.second;
  const size_t element = dtype_size(out.dtype());
  const size_t out_row = static_cast<size_t>(out_shape[axis] * inner) * element;
  auto* dst = static_cast<std::byte*>(out.raw());
  // Rows in parallel when there is enough to copy: on the stream's hot path this is serial
  // work that would otherwise leave the other threads waiting.
#pragma omp parallel for schedule(static) if (outer * out_row > kParallelBytes)
  for (int64_t o = 0; o < outer; ++o) {
    std::byte* to = dst + o * out_row;
    for (const AxisSpan& span : spans) {
      const size_t bytes = static_cast<size_t>(span.length * inner) * element;
      if (span.source) {
        const auto* src = static_cast<const std::byte*>(span.source->raw());
        const int64_t src_axis = span.source->dim(axis);
        std::memcpy(to, src + (o * src_axis + span.start) * inner * element, bytes);
      } else {
        std::memset(to, 0, bytes);  // all-zero bytes are 0 in every dtype
      }
      to += bytes;
    }
  }
  return out;
}

Tensor slice_axis(const Tensor& tensor, int64_t axis, int64_t start, int64_t length) {
  return join_axis({{&tensor, start, length}}, tensor, axis);
}

Tensor concat_axis(const std::vector<Tensor>& parts, int64_t axis) {
  if (parts.empty()) fail(ErrorCode::kInternal, "concat of nothing");
  if (parts.size() == 1) return parts[0];
  std::vector<AxisSpan> spans;
  for (const Tensor& part : parts) spans.push_back({&part, 0, part.dim(axis)});
  return join_axis(spans, parts[0], axis);
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
