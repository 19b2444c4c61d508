// Conv / ConvTranspose attributes, parsed once per node, and the geometry they imply for one
// concrete pair of input and weight shapes. Both the reference and the oneDNN kernels work from
// the resolved geometry, so ONNX's padding rules (auto_pad, output_shape, output_padding) live
// in exactly one place.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.hpp"
#include "graph/ir.hpp"
#include "ops/kernel.hpp"

namespace amphora {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

struct ConvAttrs {
  bool transpose = false;  // ConvTranspose
  AutoPad auto_pad = AutoPad::kNotSet;
  int64_t group = 1;
  // Empty when the attribute is absent; defaults are applied once the spatial rank is known.
  std::vector<int64_t> kernel_shape, strides, dilations, pads, output_padding, output_shape;

  // Fails with kInvalidModel naming the node for wrongly typed or meaningless attributes.
  static ConvAttrs parse(const Node& node, bool transpose);
};

// One convolution problem with every size known. Spatial vectors have `spatial_rank` entries.
// For ConvTranspose, `in` is the (smaller) input and `out` the upsampled output; pads may be
// negative there (output_shape larger than the natural size), which both kernels honour.
struct ConvGeometry {
  bool transpose = false;
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  size_t spatial_rank = 0;
  std::vector<int64_t> in, kernel, out, strides, dilations, pad_begin, pad_end;

  Shape output_shape() const;
  int64_t in_channels_per_group() const { return in_channels / group; }
  int64_t out_channels_per_group() const { return out_channels / group; }
};

// Resolves and validates the geometry for input `x`, weights `w` and optional bias (nullptr).
// Shapes that contradict the weights (channel count, rank) fail with kInvalidArgument; weights
// or bias that contradict the attributes fail with kInvalidModel. Messages name the node.
ConvGeometry resolve_conv_geometry(const Node& node, const ConvAttrs& attrs, const Shape& x,
                                   const Shape& w, const Shape* bias);

// How Conv, ConvTranspose and their com.amphora fused forms stream (conv_stream.cpp).
void register_conv_stream_rules(OpRegistry& registry);

}  // namespace amphora
