#include "ops/broadcast.hpp"

#include <algorithm>
#include <string>

namespace amphora {

Shape broadcast_shapes(const Node& node, const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const Shape& s : shapes) {
    size_t shift = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[shift + i];
      int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string all;
      for (const Shape& t : shapes) all += (all.empty() ? "" : ", ") + shape_str(t);
      fail(ErrorCode::kInvalidArgument,
           "{}: shapes {} cannot be broadcast together (axis {} has sizes {} and {})",
           node.display_name(), all, static_cast<int64_t>(shift + i) - static_cast<int64_t>(rank),
           o, d);
    }
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  if (in.size() > out.size()) {
    fail(ErrorCode::kInternal, "broadcast_strides: input {} has more axes than output {}",
         shape_str(in), shape_str(out));
  }
  std::vector<int64_t> strides(out.size(), 0);
  size_t shift = out.size() - in.size();
  int64_t stride = 1;
  for (size_t i = in.size(); i-- > 0;) {
    strides[shift + i] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

std::vector<int64_t> broadcast_offsets(const std::vector<int64_t>& strides, const Shape& out) {
  int64_t n = shape_numel(out);
  std::vector<int64_t> offsets(static_cast<size_t>(n));
  BroadcastCursor cursor(out, {strides});
  for (int64_t k = 0; k < n; ++k, cursor.next()) offsets[static_cast<size_t>(k)] = cursor.offset(0);
  return offsets;
}

BroadcastCursor::BroadcastCursor(const Shape& out, std::vector<std::vector<int64_t>> strides)
    : out_(out),
      strides_(std::move(strides)),
      index_(out.size(), 0),
      offsets_(strides_.size(), 0) {}

void BroadcastCursor::next() {
  // Odometer increment from the last axis; on wrap the offset contribution of the axis is undone.
  for (size_t axis = out_.size(); axis-- > 0;) {
    if (++index_[axis] < out_[axis]) {
      for (size_t j = 0; j < strides_.size(); ++j) offsets_[j] += strides_[j][axis];
      return;
    }
    for (size_t j = 0; j < strides_.size(); ++j) {
      offsets_[j] -= strides_[j][axis] * (index_[axis] - 1);
    }
    index_[axis] = 0;
  }
}

}  // namespace amphora
