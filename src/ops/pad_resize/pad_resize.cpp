// Pad (constant / reflect / edge / wrap, negative pads crop) and the registration of Resize
// (resize.cpp). Reflect and edge padding frame every MelGAN/BigVGAN convolution on [B, C, T]
// audio tensors, so this kernel runs on whole signals: each output row is a few memcpy runs
// (see gather_by_axis), not a per-sample loop.
#include "ops/pad_resize/pad_resize.hpp"

#include <cstring>
#include <numeric>

#include "ops/shape/shape_common.hpp"

namespace amphora {
namespace {

enum class PadMode { kConstant, kReflect, kEdge, kWrap };

PadMode parse_pad_mode(const Node& node) {
  std::string mode = node.get_string("mode", "constant");
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  if (mode == "wrap") return PadMode::kWrap;
  fail(ErrorCode::kUnsupported, "{}: pad mode '{}' is not supported", node.display_name(), mode);
}

// Size of one axis after padding; fails naming the node for pads the mode cannot honour.
int64_t padded_size(const Node& node, PadMode mode, int64_t dim, int64_t begin, int64_t end,
                    size_t axis) {
  if (begin > kMaxTensorElements || end > kMaxTensorElements) {
    fail(ErrorCode::kOutOfRange, "{}: pads ({}, {}) on axis {} are absurdly large",
         node.display_name(), begin, end, axis);
  }
  int64_t out_dim = begin < -dim || end < -dim ? -1 : dim + begin + end;
  if (out_dim < 0) {
    fail(ErrorCode::kInvalidArgument, "{}: pads ({}, {}) crop more than axis {} of size {}",
         node.display_name(), begin, end, axis, dim);
  }
  if (mode == PadMode::kReflect && (begin > dim - 1 || end > dim - 1) && out_dim > 0) {
    fail(ErrorCode::kInvalidArgument,
         "{}: reflect pads ({}, {}) on axis {} must be smaller than its size {}",
         node.display_name(), begin, end, axis, dim);
  }
  if (mode != PadMode::kConstant && dim == 0 && out_dim > 0) {
    fail(ErrorCode::kInvalidArgument, "{}: cannot pad empty axis {} in this mode",
         node.display_name(), axis);
  }
  return out_dim;
}

// Input index feeding output index `o` on one axis (-1: constant fill). The output is the
// input extended without bound by the mode and then cut to [-begin, dim + end), which is also
// what makes negative pads crop.
std::vector<int64_t> pad_axis_offsets(PadMode mode, int64_t dim, int64_t begin, int64_t out_dim,
                                      int64_t stride) {
  std::vector<int64_t> offsets(static_cast<size_t>(out_dim));
  for (int64_t o = 0; o < out_dim; ++o) {
    int64_t p = o - begin;
    if (p < 0 || p >= dim) {
      switch (mode) {
        case PadMode::kConstant:
          p = -1;
          break;
        case PadMode::kEdge:
          p = p < 0 ? 0 : dim - 1;
          break;
        case PadMode::kReflect:
          p = p < 0 ? -p : 2 * (dim - 1) - p;
          break;
        case PadMode::kWrap:
          p = ((p % dim) + dim) % dim;
          break;
      }
    }
    offsets[static_cast<size_t>(o)] = p < 0 ? -1 : p * stride;
  }
  return offsets;
}

std::unique_ptr<Kernel> make_pad(const Node& node, int64_t opset, const KernelOptions&) {
  PadMode mode = parse_pad_mode(node);
  bool from_inputs = opset >= 11;
  // Before opset 11 pads and value are attributes ("paddings" in opset 1).
  std::vector<int64_t> attr_pads = node.get_ints(opset < 2 ? "paddings" : "pads");
  double attr_value = node.get_float("value", 0.0f);
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    check_input_count(node, inputs, from_inputs ? 2 : 1, from_inputs ? 4 : 1);
    const Tensor& data = *inputs[0];
    std::vector<int64_t> pads = from_inputs ? read_int_input(node, *inputs[1], "pads") : attr_pads;
    std::array<std::byte, 8> fill = element_bytes(data.dtype(), attr_value);
    if (const Tensor* value = optional_input(inputs, 2)) {
      if (value->dtype() != data.dtype() || value->numel() != 1) {
        fail(ErrorCode::kInvalidArgument,
             "{}: constant_value must be one {} element, got {} of shape {}", node.display_name(),
             dtype_name(data.dtype()), dtype_name(value->dtype()), shape_str(value->shape()));
      }
      std::memcpy(fill.data(), value->raw(), dtype_size(data.dtype()));
    }
    std::vector<int64_t> axes(static_cast<size_t>(data.rank()));
    std::iota(axes.begin(), axes.end(), 0);
    if (const Tensor* t = optional_input(inputs, 3)) {
      axes = normalize_axes(node, read_int_input(node, *t, "axes"), data.rank());
    }
    if (pads.size() != 2 * axes.size()) {
      fail(ErrorCode::kInvalidArgument, "{}: {} pads for {} axes of input {} (need 2 per axis)",
           node.display_name(), pads.size(), axes.size(), shape_str(data.shape()));
    }
    std::vector<int64_t> begin(static_cast<size_t>(data.rank()), 0);
    std::vector<int64_t> end = begin;
    for (size_t i = 0; i < axes.size(); ++i) {
      begin[static_cast<size_t>(axes[i])] = pads[i];
      end[static_cast<size_t>(axes[i])] = pads[axes.size() + i];
    }
    std::vector<int64_t> strides = contiguous_strides(data.shape());
    Shape out_shape(data.shape().size());
    AxisOffsets offsets(out_shape.size());
    for (size_t a = 0; a < out_shape.size(); ++a) {
      out_shape[a] = padded_size(node, mode, data.shape()[a], begin[a], end[a], a);
    }
    shape_numel(out_shape);  // refuses absurd sizes before the offset tables are built
    for (size_t a = 0; a < out_shape.size(); ++a) {
      offsets[a] = pad_axis_offsets(mode, data.shape()[a], begin[a], out_shape[a], strides[a]);
    }
    return std::vector<Tensor>{gather_by_axis(data, out_shape, offsets, fill.data())};
  });
}

}  // namespace

void register_pad_resize_ops(OpRegistry& registry) {
  registry.add("", "Pad", 1, make_pad);
  registry.add("", "Resize", 10, make_resize);
  registry.add("", "Upsample", 7, make_resize);
  register_pad_resize_stream_rules(registry);
}

}  // namespace amphora
