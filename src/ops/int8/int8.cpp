#include "ops/int8/int8.hpp"

#include <cmath>

namespace amphora {

bool is_int8_node(const Node& node) { return node.has("x_scale") || node.has("x_dynamic"); }

Int8Scales parse_int8_scales(const Node& node) {
  Int8Scales s;
  if (!is_int8_node(node)) return s;
  s.present = true;
  s.dynamic = node.get_int("x_dynamic", 0) != 0;
  s.x_scale = s.dynamic ? 1.0f : node.get_float("x_scale", 0.0f);
  s.w_scale = node.get_floats("w_scale");
  // w_scale may be negative: fuse_matmul folds a layer scale into it.
  const auto usable = [](float v) { return std::isfinite(v) && v != 0.0f; };
  bool ok = usable(s.x_scale) && s.x_scale > 0.0f && !s.w_scale.empty();
  for (float v : s.w_scale) ok = ok && usable(v);
  if (!ok) {
    fail(ErrorCode::kInvalidModel,
         "{}: an int8 node needs a positive finite x_scale and non-zero finite w_scale values (got "
         "x_scale {} and {} w_scale values)",
         node.display_name(), s.x_scale, s.w_scale.size());
  }
  return s;
}

void check_int8_weights(const Node& node, const Int8Scales& scales, const Tensor& w,
                        int64_t out_channels) {
  if (w.dtype() != DType::kInt8) {
    fail(ErrorCode::kInvalidArgument, "{}: an int8 node's weights must be int8, got {} {}",
         node.display_name(), dtype_name(w.dtype()), shape_str(w.shape()));
  }
  const auto n = static_cast<int64_t>(scales.w_scale.size());
  if (n != 1 && n != out_channels) {
    fail(ErrorCode::kInvalidModel, "{}: {} w_scale values for {} output channels (weights {})",
         node.display_name(), n, out_channels, shape_str(w.shape()));
  }
}

}  // namespace amphora
