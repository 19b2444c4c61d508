// y = saturate(round_half_to_even(x / scale) + zero_point) and x = (q - zero_point) * scale,
// per tensor or, from opset 13, per slice along `axis`. The integer type is the zero point's
// (uint8 when there is none). Float8 types (opset 19) and blocked quantization (opset 21) are
// not supported and are refused naming the node.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/elementwise/elementwise_common.hpp"
#include "ops/quantize/quantize.hpp"

namespace amphora {
namespace {

// How scale and zero point line up with x: one value for all, or one per index of `axis`.
struct QuantLayout {
  bool per_axis = false;
  int64_t inner = 1;  // elements after the axis
  int64_t extent = 1; // size of the axis
};

QuantLayout layout_for(const Node& node, int64_t opset, const Tensor& x, const Tensor& scale,
                       const Tensor* zero_point) {
  if (node.get_int("block_size", 0) != 0) {
    fail(ErrorCode::kUnsupported, "{}: blocked quantization (block_size) is not supported",
         node.display_name());
  }
  QuantLayout layout;
  const bool scalar = scale.numel() == 1 && scale.rank() <= 1;
  if (zero_point && zero_point->shape() != scale.shape()) {
    fail(ErrorCode::kInvalidArgument, "{}: zero point shape {} differs from scale shape {}",
         node.display_name(), shape_str(zero_point->shape()), shape_str(scale.shape()));
  }
  if (scalar && scale.rank() == 0) return layout;
  if (opset < 13 || scale.rank() != 1) {
    if (scalar) return layout;
    fail(ErrorCode::kInvalidArgument, "{}: scale must be a scalar{}, got shape {}",
         node.display_name(), opset < 13 ? "" : " or 1-D", shape_str(scale.shape()));
  }
  const int64_t axis = normalize_axis(node, node.get_int("axis", 1), x.rank());
  if (x.shape()[axis] != scale.numel()) {
    if (scalar) return layout;
    fail(ErrorCode::kInvalidArgument, "{}: {} scales for axis {} of size {} (input shape {})",
         node.display_name(), scale.numel(), axis, x.shape()[axis], shape_str(x.shape()));
  }
  layout.per_axis = true;
  layout.extent = x.shape()[axis];
  for (int64_t d = axis + 1; d < x.rank(); ++d) layout.inner *= x.shape()[d];
  return layout;
}

int64_t channel_of(const QuantLayout& layout, int64_t i) {
  return layout.per_axis ? (i / layout.inner) % layout.extent : 0;
}

const float* float_input(const Node& node, const Tensor& t, size_t index) {
  if (t.dtype() != DType::kFloat32) fail_dtype(node, index, t.dtype(), "float32");
  return t.data<float>();
}

template <typename Q>
void quantize(const Tensor& x, const float* scale, const Q* zero_point, const QuantLayout& layout,
              Q* out) {
  constexpr float kLow = std::numeric_limits<Q>::min();
  constexpr float kHigh = std::numeric_limits<Q>::max();
  const int64_t n = x.numel();
  const auto value = [&](int64_t i) {
    return x.dtype() == DType::kInt32 ? static_cast<float>(x.data<int32_t>()[i])
                                      : x.data<float>()[i];
  };
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = channel_of(layout, i);
    const float zp = zero_point ? static_cast<float>(zero_point[c]) : 0.0f;
    // nearbyint rounds half to even in the default rounding mode, as the spec asks.
    const float q = std::nearbyint(value(i) / scale[c]) + zp;
    out[i] = static_cast<Q>(std::clamp(q, kLow, kHigh));
  }
}

std::unique_ptr<Kernel> make_quantize(const Node& node, int64_t opset, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([=](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 2, 3);
    const Tensor& x = *in[0];
    if (x.dtype() != DType::kFloat32 && x.dtype() != DType::kInt32) {
      fail_dtype(node, 0, x.dtype(), "float32, int32");
    }
    const float* scale = float_input(node, *in[1], 1);
    const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
    const QuantLayout layout = layout_for(node, opset, x, *in[1], zp);
    const DType type = zp ? zp->dtype() : DType::kUint8;
    Tensor y(type, x.shape());
    if (type == DType::kUint8) {
      quantize<uint8_t>(x, scale, zp ? zp->data<uint8_t>() : nullptr, layout, y.data<uint8_t>());
    } else if (type == DType::kInt8) {
      quantize<int8_t>(x, scale, zp->data<int8_t>(), layout, y.data<int8_t>());
    } else {
      fail_dtype(node, 2, type, "uint8, int8");
    }
    return std::vector<Tensor>{std::move(y)};
  });
}

template <typename Q>
void dequantize(const Q* x, int64_t n, const float* scale, const Q* zero_point,
                const QuantLayout& layout, float* out) {
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = channel_of(layout, i);
    const int64_t zp = zero_point ? static_cast<int64_t>(zero_point[c]) : 0;
    out[i] = static_cast<float>(static_cast<int64_t>(x[i]) - zp) * scale[c];
  }
}

std::unique_ptr<Kernel> make_dequantize(const Node& node, int64_t opset, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([=](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 2, 3);
    const Tensor& x = *in[0];
    const float* scale = float_input(node, *in[1], 1);
    const Tensor* zp = in.size() > 2 ? in[2] : nullptr;
    if (zp && zp->dtype() != x.dtype()) fail_dtype(node, 2, zp->dtype(), dtype_name(x.dtype()));
    const QuantLayout layout = layout_for(node, opset, x, *in[1], zp);
    Tensor y(DType::kFloat32, x.shape());
    float* out = y.data<float>();
    switch (x.dtype()) {
      case DType::kUint8:
        dequantize(x.data<uint8_t>(), x.numel(), scale, zp ? zp->data<uint8_t>() : nullptr, layout,
                   out);
        break;
      case DType::kInt8:
        dequantize(x.data<int8_t>(), x.numel(), scale, zp ? zp->data<int8_t>() : nullptr, layout,
                   out);
        break;
      case DType::kInt32:
        dequantize(x.data<int32_t>(), x.numel(), scale, zp ? zp->data<int32_t>() : nullptr, layout,
                   out);
        break;
      default:
        fail_dtype(node, 0, x.dtype(), "uint8, int8, int32");
    }
    return std::vector<Tensor>{std::move(y)};
  });
}

// uint8 with the scale and zero point that map [min(x, 0), max(x, 0)] onto [0, 255].
std::unique_ptr<Kernel> make_dynamic_quantize(const Node& node, int64_t, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([=](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 1, 1);
    const Tensor& x = *in[0];
    const float* v = float_input(node, x, 0);
    float low = 0.0f, high = 0.0f;
    for (int64_t i = 0; i < x.numel(); ++i) {
      low = std::min(low, v[i]);
      high = std::max(high, v[i]);
    }
    Tensor scale = Tensor::scalar<float>((high - low) / 255.0f);
    const float s = scale.data<float>()[0];
    Tensor zero_point = Tensor::scalar<uint8_t>(
        s == 0.0f ? 0 : static_cast<uint8_t>(std::clamp(std::nearbyint(-low / s), 0.0f, 255.0f)));
    Tensor y(DType::kUint8, x.shape());
    if (s == 0.0f) {
      std::fill(y.data<uint8_t>(), y.data<uint8_t>() + y.numel(), uint8_t{0});  // x is all zeros
    } else {
      quantize<uint8_t>(x, scale.data<float>(), zero_point.data<uint8_t>(), QuantLayout{},
                        y.data<uint8_t>());
    }
    return std::vector<Tensor>{std::move(y), std::move(scale), std::move(zero_point)};
  });
}

}  // namespace

void register_quantize_ops(OpRegistry& registry) {
  for (int64_t since : {10, 13}) {
    registry.add("", "QuantizeLinear", since, make_quantize);
    registry.add("", "DequantizeLinear", since, make_dequantize);
  }
  registry.add("", "DynamicQuantizeLinear", 11, make_dynamic_quantize);
  register_quantize_stream_rules(registry);
}

}  // namespace amphora
