// Resize (and the older Upsample): nearest (any dtype, by copying elements), linear and cubic
// (float types), with every coordinate_transformation_mode, scales or sizes, optional roi
// (tf_crop_and_resize), axes and keep_aspect_ratio_policy (opset 18). Interpolation is separable,
// so N-d linear/cubic is one 1-D pass per resized axis, accumulated in double as the ONNX reference
// does.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/pad_resize/pad_resize.hpp"
#include "ops/shape/shape_common.hpp"

namespace amphora {
namespace {

enum class Interpolation { kNearest, kLinear, kCubic };
enum class CoordinateMode {
  kHalfPixel,
  kHalfPixelSymmetric,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize,
};
enum class NearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil, kOpset10 };
enum class AspectPolicy { kStretch, kNotLarger, kNotSmaller };

struct ResizeAttributes {
  Interpolation interpolation = Interpolation::kNearest;
  CoordinateMode coordinates = CoordinateMode::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  AspectPolicy policy = AspectPolicy::kStretch;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation_value = 0.0;
  std::vector<int64_t> axes;  // empty: all axes
};

template <typename E>
E parse_choice(const Node& node, const char* attr, const std::string& fallback,
               std::initializer_list<std::pair<const char*, E>> choices) {
  std::string value = node.get_string(attr, fallback);
  for (const auto& [name, e] : choices) {
    if (value == name) return e;
  }
  fail(ErrorCode::kUnsupported, "{}: {} '{}' is not supported", node.display_name(), attr, value);
}

ResizeAttributes parse_attributes(const Node& node, int64_t opset) {
  ResizeAttributes a;
  a.interpolation = parse_choice<Interpolation>(node, "mode", "nearest",
                                                {{"nearest", Interpolation::kNearest},
                                                 {"linear", Interpolation::kLinear},
                                                 {"bilinear", Interpolation::kLinear},  // Upsample
                                                 {"cubic", Interpolation::kCubic}});
  if (opset < 11) {
    // Resize-10 had no coordinate modes; ONNX Runtime maps it to asymmetric and, for
    // nearest, truncation when upsampling and ceil when downsampling.
    a.coordinates = CoordinateMode::kAsymmetric;
    a.nearest = NearestMode::kOpset10;
    if (a.interpolation == Interpolation::kCubic) {
      fail(ErrorCode::kInvalidModel, "{}: mode 'cubic' needs opset 11", node.display_name());
    }
    return a;
  }
  a.coordinates =
      parse_choice<CoordinateMode>(node, "coordinate_transformation_mode", "half_pixel",
                                   {{"half_pixel", CoordinateMode::kHalfPixel},
                                    {"half_pixel_symmetric", CoordinateMode::kHalfPixelSymmetric},
                                    {"pytorch_half_pixel", CoordinateMode::kPytorchHalfPixel},
                                    {"align_corners", CoordinateMode::kAlignCorners},
                                    {"asymmetric", CoordinateMode::kAsymmetric},
                                    {"tf_half_pixel_for_nn", CoordinateMode::kTfHalfPixelForNn},
                                    {"tf_crop_and_resize", CoordinateMode::kTfCropAndResize}});
  a.nearest = parse_choice<NearestMode>(node, "nearest_mode", "round_prefer_floor",
                                        {{"round_prefer_floor", NearestMode::kRoundPreferFloor},
                                         {"round_prefer_ceil", NearestMode::kRoundPreferCeil},
                                         {"floor", NearestMode::kFloor},
                                         {"ceil", NearestMode::kCeil}});
  a.policy = parse_choice<AspectPolicy>(node, "keep_aspect_ratio_policy", "stretch",
                                        {{"stretch", AspectPolicy::kStretch},
                                         {"not_larger", AspectPolicy::kNotLarger},
                                         {"not_smaller", AspectPolicy::kNotSmaller}});
  a.cubic_a = node.get_float("cubic_coeff_a", -0.75f);
  a.exclude_outside = node.get_int("exclude_outside", 0) != 0;
  a.extrapolation_value = node.get_float("extrapolation_value", 0.0f);
  a.axes = node.get_ints("axes");
  if (node.get_int("antialias", 0) != 0) {
    fail(ErrorCode::kUnsupported, "{}: antialias=1 is not supported", node.display_name());
  }
  return a;
}

// How one axis is resized.
struct AxisResize {
  int64_t in = 0;
  int64_t out = 0;
  double scale = 1.0;
  double roi_start = 0.0;
  double roi_end = 1.0;
  bool identity() const { return in == out && scale == 1.0 && roi_start == 0.0 && roi_end == 1.0; }
};

// Input coordinate of output index y; sets *outside for tf_crop_and_resize coordinates that fall
// off the input (they take the extrapolation value). Computed in float, as ONNX Runtime does:
// nearest rounding at non-representable scales (0.6, 1.7) then picks the same pixels as ORT.
double source_coordinate(CoordinateMode mode, const AxisResize& r, int64_t y, bool* outside) {
  float x = static_cast<float>(y);
  float in = static_cast<float>(r.in);
  float scale = static_cast<float>(r.scale);
  // align_corners and half_pixel_symmetric use the unrounded output length scale * in, as the
  // ONNX reference (and so the conformance data) does, not the integer size.
  float out_length = scale * in;
  *outside = false;
  switch (mode) {
    case CoordinateMode::kHalfPixel:
      return (x + 0.5f) / scale - 0.5f;
    case CoordinateMode::kHalfPixelSymmetric: {
      float adjustment = static_cast<float>(r.out) / out_length;
      float offset = in / 2 * (1 - adjustment);
      return offset + (x + 0.5f) / scale - 0.5f;
    }
    case CoordinateMode::kPytorchHalfPixel:
      return r.out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    case CoordinateMode::kAlignCorners:
      return r.out == 1 ? 0.0f : x * (in - 1) / (out_length - 1);
    case CoordinateMode::kAsymmetric:
      return x / scale;
    case CoordinateMode::kTfHalfPixelForNn:
      return (x + 0.5f) / scale;
    case CoordinateMode::kTfCropAndResize: {
      float start = static_cast<float>(r.roi_start), end = static_cast<float>(r.roi_end);
      float c = r.out > 1 ? start * (in - 1) +
                                x * (end - start) * (in - 1) / (static_cast<float>(r.out) - 1)
                          : 0.5f * (start + end) * (in - 1);
      *outside = c < 0 || c > in - 1;
      return c;
    }
  }
  return x;
}

int64_t nearest_index(NearestMode mode, double x, const AxisResize& r) {
  double fl = std::floor(x);
  double i = fl;
  switch (mode) {
    case NearestMode::kRoundPreferFloor:
      i = x - fl <= 0.5 ? fl : fl + 1;
      break;
    case NearestMode::kRoundPreferCeil:
      i = x - fl < 0.5 ? fl : fl + 1;
      break;
    case NearestMode::kFloor:
      i = fl;
      break;
    case NearestMode::kCeil:
      i = std::ceil(x);
      break;
    case NearestMode::kOpset10:
      i = r.scale < 1 ? std::ceil(x) : std::trunc(x);
      break;
  }
  return std::clamp(static_cast<int64_t>(i), int64_t{0}, r.in - 1);
}

// The output shape and per-axis parameters from scales or sizes.
std::vector<AxisResize> plan_axes(const Node& node, const ResizeAttributes& attrs,
                                  const Tensor& data, const Tensor* roi, const Tensor* scales,
                                  const Tensor* sizes) {
  int64_t rank = data.rank();
  std::vector<int64_t> axes = attrs.axes;
  if (axes.empty()) {
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  }
  axes = normalize_axes(node, axes, rank);
  size_t n = axes.size();
  std::vector<AxisResize> plan(static_cast<size_t>(rank));
  for (int64_t a = 0; a < rank; ++a) {
    plan[static_cast<size_t>(a)].in = plan[static_cast<size_t>(a)].out = data.dim(a);
  }
  if ((scales != nullptr) == (sizes != nullptr)) {
    fail(ErrorCode::kInvalidArgument, "{}: exactly one of 'scales' and 'sizes' must be given",
         node.display_name());
  }
  if (scales) {
    expect_dtype(node, *scales, DType::kFloat32, "scales");
    std::vector<float> values = scales->to_float_vector();
    if (values.size() != n) {
      fail(ErrorCode::kInvalidArgument, "{}: {} scales for {} axes of input {}",
           node.display_name(), values.size(), n, shape_str(data.shape()));
    }
    for (size_t i = 0; i < n; ++i) {
      AxisResize& r = plan[static_cast<size_t>(axes[i])];
      if (!(values[i] > 0) || !(values[i] * static_cast<double>(r.in) <= kMaxTensorElements)) {
        fail(ErrorCode::kInvalidArgument, "{}: scale {} on axis {} is not a usable factor",
             node.display_name(), values[i], axes[i]);
      }
      r.scale = values[i];
      r.out = static_cast<int64_t>(std::floor(r.scale * static_cast<double>(r.in)));
    }
  } else {
    std::vector<int64_t> values = read_int_input(node, *sizes, "sizes");
    if (values.size() != n) {
      fail(ErrorCode::kInvalidArgument, "{}: {} sizes for {} axes of input {}", node.display_name(),
           values.size(), n, shape_str(data.shape()));
    }
    for (size_t i = 0; i < n; ++i) {
      AxisResize& r = plan[static_cast<size_t>(axes[i])];
      if (values[i] < 0 || (r.in == 0 && values[i] != 0)) {
        fail(ErrorCode::kInvalidArgument, "{}: cannot resize axis {} of size {} to {}",
             node.display_name(), axes[i], r.in, values[i]);
      }
      r.out = values[i];
      r.scale = r.in == 0 ? 1.0 : static_cast<double>(r.out) / static_cast<double>(r.in);
    }
    if (attrs.policy != AspectPolicy::kStretch && n > 0) {
      // One scale for all resized axes, so the aspect ratio is kept; sizes round half up.
      double scale = plan[static_cast<size_t>(axes[0])].scale;
      for (int64_t a : axes) {
        double s = plan[static_cast<size_t>(a)].scale;
        scale = attrs.policy == AspectPolicy::kNotLarger ? std::min(scale, s) : std::max(scale, s);
      }
      for (int64_t a : axes) {
        AxisResize& r = plan[static_cast<size_t>(a)];
        r.scale = scale;
        r.out = static_cast<int64_t>(scale * static_cast<double>(r.in) + 0.5);
      }
    }
  }
  if (attrs.coordinates == CoordinateMode::kTfCropAndResize) {
    if (!roi) {
      fail(ErrorCode::kInvalidArgument, "{}: tf_crop_and_resize needs the 'roi' input",
           node.display_name());
    }
    std::vector<float> values = roi->to_float_vector();
    if (values.size() != 2 * n) {
      fail(ErrorCode::kInvalidArgument, "{}: roi has {} values, expected {}", node.display_name(),
           values.size(), 2 * n);
    }
    for (size_t i = 0; i < n; ++i) {
      plan[static_cast<size_t>(axes[i])].roi_start = values[i];
      plan[static_cast<size_t>(axes[i])].roi_end = values[n + i];
    }
  }
  return plan;
}

Tensor resize_nearest(const ResizeAttributes& attrs, const Tensor& data,
                      const std::vector<AxisResize>& plan) {
  std::vector<int64_t> strides = contiguous_strides(data.shape());
  Shape out_shape;
  AxisOffsets offsets(plan.size());
  for (size_t a = 0; a < plan.size(); ++a) {
    const AxisResize& r = plan[a];
    out_shape.push_back(r.out);
    if (r.identity()) {  // e.g. batch/channel axes: never remapped, whatever the mode
      for (int64_t y = 0; y < r.out; ++y) offsets[a].push_back(y * strides[a]);
      continue;
    }
    for (int64_t y = 0; y < r.out; ++y) {
      bool outside = false;
      double x = source_coordinate(attrs.coordinates, r, y, &outside);
      offsets[a].push_back(outside ? -1 : nearest_index(attrs.nearest, x, r) * strides[a]);
    }
  }
  auto fill = element_bytes(data.dtype(), attrs.extrapolation_value);
  return gather_by_axis(data, out_shape, offsets, fill.data());
}

// Filter taps of one output index along one axis: input indices (already clamped to the
// edge, as the reference's edge padding does) and their weights.
struct Taps {
  int64_t index[4];
  double weight[4];
  int count = 0;
  bool outside = false;
};

Taps interpolation_taps(const ResizeAttributes& attrs, const AxisResize& r, int64_t y) {
  Taps t;
  double x = source_coordinate(attrs.coordinates, r, y, &t.outside);
  double fl = std::floor(x);
  double s = x - fl;
  int64_t first;
  if (attrs.interpolation == Interpolation::kLinear) {
    t.count = 2;
    first = static_cast<int64_t>(fl);
    t.weight[0] = 1 - s;
    t.weight[1] = s;
  } else {
    t.count = 4;
    first = static_cast<int64_t>(fl) - 1;
    double A = attrs.cubic_a;
    double u = 1 - s;
    t.weight[0] = ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A;
    t.weight[1] = ((A + 2) * s - (A + 3)) * s * s + 1;
    t.weight[2] = ((A + 2) * u - (A + 3)) * u * u + 1;
    t.weight[3] = ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A;
  }
  double kept = 0;
  for (int k = 0; k < t.count; ++k) {
    int64_t i = first + k;
    if (attrs.exclude_outside && (i < 0 || i >= r.in)) t.weight[k] = 0;
    kept += t.weight[k];
    t.index[k] = std::clamp(i, int64_t{0}, r.in - 1);
  }
  if (attrs.exclude_outside && kept != 0) {
    for (int k = 0; k < t.count; ++k) t.weight[k] /= kept;
  }
  return t;
}

// One separable pass: resizes axis `axis` of `values` (shape `shape`, updated in place).
std::vector<double> interpolate_axis(const ResizeAttributes& attrs,
                                     const std::vector<double>& values, Shape& shape, size_t axis,
                                     const AxisResize& r) {
  std::vector<Taps> taps;
  for (int64_t y = 0; y < r.out; ++y) taps.push_back(interpolation_taps(attrs, r, y));
  int64_t outer = 1, inner = 1;
  for (size_t a = 0; a < axis; ++a) outer *= shape[a];
  for (size_t a = axis + 1; a < shape.size(); ++a) inner *= shape[a];
  Shape out_shape = shape;
  out_shape[axis] = r.out;
  std::vector<double> out(static_cast<size_t>(shape_numel(out_shape)));
  double* dst = out.data();
  for (int64_t o = 0; o < outer; ++o) {
    const double* src = values.data() + o * r.in * inner;
    for (const Taps& t : taps) {
      for (int64_t i = 0; i < inner; ++i) {
        double sum = 0;
        for (int k = 0; k < t.count; ++k) sum += t.weight[k] * src[t.index[k] * inner + i];
        *dst++ = t.outside ? attrs.extrapolation_value : sum;
      }
    }
  }
  shape = out_shape;
  return out;
}

template <typename T>
Tensor resize_interpolated(const ResizeAttributes& attrs, const Tensor& data,
                           const std::vector<AxisResize>& plan) {
  const T* src = data.data<T>();
  std::vector<double> values(src, src + data.numel());
  Shape shape = data.shape();
  for (size_t a = 0; a < plan.size(); ++a) {
    if (!plan[a].identity()) values = interpolate_axis(attrs, values, shape, a, plan[a]);
  }
  Tensor out(data.dtype(), shape);
  T* dst = out.data<T>();
  for (size_t i = 0; i < values.size(); ++i) dst[i] = static_cast<T>(values[i]);
  return out;
}

// An input counts as absent when not given or empty (opsets 11-12 pass empty tensors).
const Tensor* given(const std::vector<const Tensor*>& inputs, size_t index) {
  const Tensor* t = optional_input(inputs, index);
  return t && t->numel() > 0 ? t : nullptr;
}

}  // namespace

std::unique_ptr<Kernel> make_resize(const Node& node, int64_t opset, const KernelOptions&) {
  // Upsample (opsets 7-9, what torch exports below opset 10) is Resize-10 under another name;
  // Upsample-7 carries its scales as an attribute.
  bool upsample = node.op_type == "Upsample";
  ResizeAttributes attrs = parse_attributes(node, upsample ? 10 : opset);
  Tensor attr_scales;
  if (upsample && opset < 9) {
    std::vector<float> v = node.get_floats("scales");
    attr_scales = Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  return make_function_kernel([=](const std::vector<const Tensor*>& inputs) {
    const Tensor* roi = nullptr;
    const Tensor* scales = nullptr;
    const Tensor* sizes = nullptr;
    if (!attr_scales.empty()) {
      check_input_count(node, inputs, 1, 1);
      scales = &attr_scales;
    } else if (upsample || opset < 11) {
      check_input_count(node, inputs, 2, 2);
      scales = given(inputs, 1);
    } else {
      check_input_count(node, inputs, 1, 4);
      roi = given(inputs, 1);
      scales = given(inputs, 2);
      sizes = given(inputs, 3);
    }
    const Tensor& data = *inputs[0];
    std::vector<AxisResize> plan = plan_axes(node, attrs, data, roi, scales, sizes);
    for (size_t a = 0; upsample && a < plan.size(); ++a) {
      if (plan[a].scale < 1) {
        fail(ErrorCode::kInvalidArgument, "{}: Upsample scale {} on axis {} is below 1",
             node.display_name(), plan[a].scale, a);
      }
    }
    Shape out_shape;
    for (const AxisResize& r : plan) out_shape.push_back(r.out);
    shape_numel(out_shape);  // refuses absurd sizes before any table is built
    for (const AxisResize& r : plan) {
      if (r.in == 0 && r.out > 0) {
        fail(ErrorCode::kInvalidArgument, "{}: cannot resize an empty axis of input {}",
             node.display_name(), shape_str(data.shape()));
      }
    }
    if (attrs.interpolation == Interpolation::kNearest) {
      return std::vector<Tensor>{resize_nearest(attrs, data, plan)};
    }
    if (data.dtype() == DType::kFloat32) {
      return std::vector<Tensor>{resize_interpolated<float>(attrs, data, plan)};
    }
    if (data.dtype() == DType::kFloat64) {
      return std::vector<Tensor>{resize_interpolated<double>(attrs, data, plan)};
    }
    fail(ErrorCode::kUnsupported, "{}: linear/cubic Resize of {} is not supported",
         node.display_name(), dtype_name(data.dtype()));
  });
}

}  // namespace amphora
