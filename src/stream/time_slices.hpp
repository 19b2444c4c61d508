// Cutting and joining tensors along one axis (the time axis of a streamed value): the few
// tensor moves the streamer needs, for any dtype.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.hpp"

namespace amphora::stream {

// Elements [start, start + length) along the join's axis of `source`, or `length` zeros when
// `source` is null.
struct AxisSpan {
  const Tensor* source = nullptr;
  int64_t start = 0;
  int64_t length = 0;
};

// The spans one after another along `axis`, in one pass over the output; `like` gives the
// dtype and the other dims (every span's source shares them).
Tensor join_axis(const std::vector<AxisSpan>& spans, const Tensor& like, int64_t axis);

// Elements [start, start + length) along `axis` (a copy).
Tensor slice_axis(const Tensor& tensor, int64_t axis, int64_t start, int64_t length);
// Joins along `axis`; every part has the same dtype and the same other dims. Empty parts
// (length 0 along axis) are allowed.
Tensor concat_axis(const std::vector<Tensor>& parts, int64_t axis);
// A tensor shaped like `like` but `length` long along `axis`, every element `value`.
Tensor filled_along(const Tensor& like, int64_t axis, int64_t length, double value);

}  // namespace amphora::stream
