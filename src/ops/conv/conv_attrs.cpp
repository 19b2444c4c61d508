#include "ops/conv/conv_attrs.hpp"

#include <algorithm>
#include <string>

namespace amphora {
namespace {

AutoPad parse_auto_pad(const Node& node) {
  std::string value = node.get_string("auto_pad", "NOTSET");
  if (value == "NOTSET" || value.empty()) return AutoPad::kNotSet;
  if (value == "SAME_UPPER") return AutoPad::kSameUpper;
  if (value == "SAME_LOWER") return AutoPad::kSameLower;
  if (value == "VALID") return AutoPad::kValid;
  fail(ErrorCode::kInvalidModel,
       "{}: unknown auto_pad '{}' (expected NOTSET, SAME_UPPER, "
       "SAME_LOWER or VALID)",
       node.display_name(), value);
}

// Python-style floor division: ONNX's ConvTranspose padding formulas are written for it, and
// a negative total padding (output_shape larger than the natural size) must split the same way.
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// An attribute list must have one entry per spatial axis (or two for pads); an empty list means
// "use the default".
std::vector<int64_t> spatial_list(const Node& node, const char* name,
                                  const std::vector<int64_t>& given, size_t expected,
                                  int64_t fallback) {
  if (given.empty()) return std::vector<int64_t>(expected, fallback);
  if (given.size() != expected) {
    fail(ErrorCode::kInvalidModel, "{}: attribute '{}' has {} values, expected {}",
         node.display_name(), name, given.size(), expected);
  }
  return given;
}

}  // namespace

ConvAttrs ConvAttrs::parse(const Node& node, bool transpose) {
  ConvAttrs a;
  a.transpose = transpose;
  a.auto_pad = parse_auto_pad(node);
  a.group = node.get_int("group", 1);
  a.kernel_shape = node.get_ints("kernel_shape");
  a.strides = node.get_ints("strides");
  a.dilations = node.get_ints("dilations");
  a.pads = node.get_ints("pads");
  if (transpose) {
    a.output_padding = node.get_ints("output_padding");
    a.output_shape = node.get_ints("output_shape");
  } else if (node.has("output_padding") || node.has("output_shape")) {
    fail(ErrorCode::kInvalidModel, "{}: output_padding/output_shape only apply to ConvTranspose",
         node.display_name());
  }
  if (a.group < 1) {
    fail(ErrorCode::kInvalidModel, "{}: group must be >= 1, got {}", node.display_name(), a.group);
  }
  if (a.pads.size() % 2 != 0) {
    fail(ErrorCode::kInvalidModel, "{}: pads must have an even number of values, got {}",
         node.display_name(), a.pads.size());
  }
  for (int64_t s : a.strides) {
    if (s < 1) fail(ErrorCode::kInvalidModel, "{}: strides must be >= 1", node.display_name());
  }
  for (int64_t d : a.dilations) {
    if (d < 1) fail(ErrorCode::kInvalidModel, "{}: dilations must be >= 1", node.display_name());
  }
  return a;
}

Shape ConvGeometry::output_shape() const {
  Shape s{batch, out_channels};
  s.insert(s.end(), out.begin(), out.end());
  return s;
}

ConvGeometry resolve_conv_geometry(const Node& node, const ConvAttrs& attrs, const Shape& x,
                                   const Shape& w, const Shape* bias) {
  const std::string name = node.display_name();
  if (w.size() < 3 || w.size() > 5) {
    fail(ErrorCode::kInvalidModel, "{}: weights have shape {}, expected rank 3..5", name,
         shape_str(w));
  }
  if (x.size() != w.size()) {
    fail(ErrorCode::kInvalidArgument, "{}: input X has shape {} but weights {} need rank {}", name,
         shape_str(x), shape_str(w), w.size());
  }
  ConvGeometry g;
  g.transpose = attrs.transpose;
  g.spatial_rank = x.size() - 2;
  g.batch = x[0];
  g.in_channels = x[1];
  g.group = attrs.group;
  const size_t rank = g.spatial_rank;
  const int64_t weight_in = attrs.transpose ? w[0] : w[1] * g.group;
  if (g.in_channels != weight_in) {
    fail(ErrorCode::kInvalidArgument,
         "{}: input X has {} channels (shape {}) but weights {} "
         "with group {} expect {}",
         name, g.in_channels, shape_str(x), shape_str(w), g.group, weight_in);
  }
  g.out_channels = attrs.transpose ? w[1] * g.group : w[0];
  if (w[0] % g.group != 0) {
    fail(ErrorCode::kInvalidModel, "{}: group {} does not divide the {} channels of weights {}",
         name, g.group, w[0], shape_str(w));
  }
  if (bias && (bias->size() != 1 || (*bias)[0] != g.out_channels)) {
    fail(ErrorCode::kInvalidModel, "{}: bias has shape {}, expected [{}]", name, shape_str(*bias),
         g.out_channels);
  }
  g.in.assign(x.begin() + 2, x.end());
  g.kernel.assign(w.begin() + 2, w.end());
  if (!attrs.kernel_shape.empty() && attrs.kernel_shape != g.kernel) {
    fail(ErrorCode::kInvalidModel, "{}: kernel_shape {} contradicts weights {}", name,
         shape_str(attrs.kernel_shape), shape_str(w));
  }
  g.strides = spatial_list(node, "strides", attrs.strides, rank, 1);
  g.dilations = spatial_list(node, "dilations", attrs.dilations, rank, 1);
  std::vector<int64_t> pads = spatial_list(node, "pads", attrs.pads, 2 * rank, 0);
  g.pad_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(rank));
  g.pad_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(rank), pads.end());
  g.out.resize(rank);

  if (!attrs.transpose) {
    for (size_t i = 0; i < rank; ++i) {
      const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
      if (attrs.auto_pad == AutoPad::kValid) {
        g.pad_begin[i] = g.pad_end[i] = 0;
      } else if (attrs.auto_pad != AutoPad::kNotSet) {
        const int64_t out = (g.in[i] + g.strides[i] - 1) / g.strides[i];
        const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + span - g.in[i]);
        const int64_t small = total / 2;
        g.pad_begin[i] = attrs.auto_pad == AutoPad::kSameUpper ? small : total - small;
        g.pad_end[i] = total - g.pad_begin[i];
      }
      const int64_t padded = g.in[i] + g.pad_begin[i] + g.pad_end[i];
      if (padded < span) {
        fail(ErrorCode::kInvalidArgument,
             "{}: input X {} is too short on spatial axis {} for a "
             "kernel spanning {}",
             name, shape_str(x), i, span);
      }
      g.out[i] = (padded - span) / g.strides[i] + 1;
    }
    return g;
  }

  std::vector<int64_t> out_pad =
      spatial_list(node, "output_padding", attrs.output_padding, rank, 0);
  std::vector<int64_t> requested;  // explicit output size, from output_shape or SAME_*
  if (!attrs.output_shape.empty()) {
    requested = attrs.output_shape;
    // Some exporters write the full [N, C, spatial...] shape; only the spatial part matters.
    if (requested.size() == rank + 2) requested.erase(requested.begin(), requested.begin() + 2);
    requested = spatial_list(node, "output_shape", requested, rank, 0);
  } else if (attrs.auto_pad == AutoPad::kSameUpper || attrs.auto_pad == AutoPad::kSameLower) {
    for (size_t i = 0; i < rank; ++i) requested.push_back(g.in[i] * g.strides[i]);
  }
  for (size_t i = 0; i < rank; ++i) {
    const int64_t span = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t natural = g.strides[i] * (g.in[i] - 1) + out_pad[i] + span;
    if (!requested.empty()) {
      // ONNX spec: SAME_UPPER puts the smaller half of the padding first, otherwise the larger.
      const int64_t total = natural - requested[i];
      const int64_t half = floor_div(total, 2);
      g.pad_begin[i] = attrs.auto_pad == AutoPad::kSameUpper ? half : total - half;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (attrs.auto_pad == AutoPad::kValid) {
      g.pad_begin[i] = g.pad_end[i] = 0;
    }
    g.out[i] = natural - g.pad_begin[i] - g.pad_end[i];
    if (g.out[i] < 1) {
      fail(ErrorCode::kInvalidArgument, "{}: input X {} gives an empty output on spatial axis {}",
           name, shape_str(x), i);
    }
  }
  return g;
}

}  // namespace amphora
