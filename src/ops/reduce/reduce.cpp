// ReduceSum / Mean / Max / Min / Prod / L2 / SumSquare over any set of axes, and the registration
// of the whole reduction family. Axes come from the `axes` attribute before ReduceSum-13 and the
// other Reduce*-18, and from an optional second input since; an empty axes list reduces every
// axis unless noop_with_empty_axes is set. Float sums accumulate in double so the reference is
// at least as accurate as any fast path it checks.
#include "ops/reduce/reduce.hpp"

#include <cmath>
#include <limits>
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {

AxisSplit split_at_axis(const Shape& shape, int64_t axis) {
  AxisSplit split;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    if (i < axis) split.outer *= shape[i];
    if (i == axis) split.extent = shape[i];
    if (i > axis) split.inner *= shape[i];
  }
  return split;
}

namespace {

enum class Reduction { kSum, kMean, kMax, kMin, kProd, kL2, kSumSquare };

// Input geometry of a reduction: for every output element, the kept axes give a base offset
// and the reduced axes an odometer over the elements folded into it.
struct ReduceLayout {
  Shape out_shape;  // with keepdims applied
  Shape kept_dims;
  std::vector<int64_t> kept_strides;
  Shape reduced_dims;
  std::vector<int64_t> reduced_strides;
  int64_t reduced_count = 1;
};

ReduceLayout plan_reduction(const Node& node, const Shape& shape, std::vector<int64_t> axes,
                            bool keepdims) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<bool> reduced(shape.size(), axes.empty());
  for (int64_t& axis : axes) {
    axis = normalize_axis(node, axis, rank);
    if (reduced[axis]) {
      fail(ErrorCode::kInvalidModel, "{}: axis {} is listed twice in axes", node.display_name(),
           axis);
    }
    reduced[axis] = true;
  }
  ReduceLayout layout;
  int64_t stride = 1;
  std::vector<int64_t> strides(shape.size());
  for (int64_t i = rank - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= shape[i];
  }
  for (int64_t i = 0; i < rank; ++i) {
    if (reduced[i]) {
      layout.reduced_dims.push_back(shape[i]);
      layout.reduced_strides.push_back(strides[i]);
      layout.reduced_count *= shape[i];
      if (keepdims) layout.out_shape.push_back(1);
    } else {
      layout.kept_dims.push_back(shape[i]);
      layout.kept_strides.push_back(strides[i]);
      layout.out_shape.push_back(shape[i]);
    }
  }
  return layout;
}

// Integer accumulation wraps (two's complement) instead of overflowing into UB.
template <typename Acc>
Acc accumulate_sum(Acc a, Acc b) {
  if constexpr (std::is_integral_v<Acc>) {
    return static_cast<Acc>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return a + b;
  }
}
template <typename Acc>
Acc accumulate_product(Acc a, Acc b) {
  if constexpr (std::is_integral_v<Acc>) {
    return static_cast<Acc>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return a * b;
  }
}

template <Reduction kReduction, typename T>
void reduce(const ReduceLayout& layout, const T* in, T* out) {
  using Acc = std::conditional_t<kIsFloat<T>, double, int64_t>;
  const int64_t outputs = shape_numel(layout.kept_dims);
  const int64_t total = outputs * layout.reduced_count;
  const size_t kept_rank = layout.kept_dims.size();
  const size_t reduced_rank = layout.reduced_dims.size();
#pragma omp parallel for schedule(static) if (total > kParallelElements)
  for (int64_t o = 0; o < outputs; ++o) {
    int64_t base = 0;
    int64_t rest = o;
    for (size_t a = kept_rank; a-- > 0;) {
      base += (rest % layout.kept_dims[a]) * layout.kept_strides[a];
      rest /= layout.kept_dims[a];
    }
    Acc sum = kReduction == Reduction::kProd ? 1 : 0;
    T best;  // running max/min; starts at the identity (empty reductions return it)
    if constexpr (kReduction == Reduction::kMin) {
      best = kIsFloat<T> ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
    } else {
      best = kIsFloat<T> ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    }
    std::vector<int64_t> index(reduced_rank, 0);
    int64_t offset = base;
    for (int64_t r = 0; r < layout.reduced_count; ++r) {
      const T v = in[offset];
      if constexpr (kReduction == Reduction::kMax) {
        if (v > best || v != v) best = v;  // v != v: a NaN wins and stays
        if (best != best) break;
      } else if constexpr (kReduction == Reduction::kMin) {
        if (v < best || v != v) best = v;
        if (best != best) break;
      } else if constexpr (kReduction == Reduction::kProd) {
        sum = accumulate_product(sum, static_cast<Acc>(v));
      } else if constexpr (kReduction == Reduction::kL2 || kReduction == Reduction::kSumSquare) {
        sum = accumulate_sum(sum, accumulate_product(static_cast<Acc>(v), static_cast<Acc>(v)));
      } else {
        sum = accumulate_sum(sum, static_cast<Acc>(v));
      }
      for (size_t a = reduced_rank; a-- > 0;) {  // odometer over the reduced axes
        offset += layout.reduced_strides[a];
        if (++index[a] < layout.reduced_dims[a]) break;
        offset -= layout.reduced_strides[a] * layout.reduced_dims[a];
        index[a] = 0;
      }
    }
    if constexpr (kReduction == Reduction::kMax || kReduction == Reduction::kMin) {
      out[o] = best;
    } else if constexpr (kReduction == Reduction::kL2) {
      out[o] = static_cast<T>(std::sqrt(static_cast<double>(sum)));
    } else if constexpr (kReduction == Reduction::kMean) {
      if constexpr (kIsFloat<T>) {
        out[o] = static_cast<T>(sum / static_cast<double>(layout.reduced_count));
      } else {
        out[o] = layout.reduced_count ? static_cast<T>(sum / layout.reduced_count) : T{0};
      }
    } else {
      out[o] = static_cast<T>(sum);
    }
  }
}

template <Reduction kReduction>
std::unique_ptr<Kernel> make_reduce(const Node& node, int64_t opset, const KernelOptions&) {
  const bool axes_from_input = opset >= 18 || (kReduction == Reduction::kSum && opset >= 13);
  const bool keepdims = node.get_int("keepdims", 1) != 0;
  const bool noop_with_empty_axes = node.get_int("noop_with_empty_axes", 0) != 0;
  const std::vector<int64_t> attribute_axes = node.get_ints("axes");
  if (axes_from_input && node.has("axes")) {
    fail(ErrorCode::kInvalidModel, "{}: opset {} takes axes as an input, not an attribute",
         node.display_name(), opset);
  }
  return std::make_unique<FunctionKernel>([=](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 1, axes_from_input ? 2 : 1);
    const Tensor& data = *in[0];
    std::vector<int64_t> axes = attribute_axes;
    if (axes_from_input && in.size() > 1 && in[1]) {
      if (in[1]->dtype() != DType::kInt64) fail_dtype(node, 1, in[1]->dtype(), "int64");
      axes = in[1]->to_int64_vector();
    }
    if (axes.empty() && noop_with_empty_axes) return std::vector<Tensor>{data};
    const ReduceLayout layout = plan_reduction(node, data.shape(), axes, keepdims);
    Tensor out(data.dtype(), layout.out_shape);
    visit_dtype(data.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsNumber<T>) {
        reduce<kReduction, T>(layout, data.data<T>(), out.data<T>());
      } else {
        fail_dtype(node, 0, data.dtype(), "float32, float64, int8, uint8, int32, int64");
      }
    });
    return std::vector<Tensor>{out};
  });
}

template <Reduction kReduction>
void add_reduce(OpRegistry& registry, const char* op_type, int64_t axes_input_since) {
  registry.add("", op_type, 1, make_reduce<kReduction>);
  registry.add("", op_type, axes_input_since, make_reduce<kReduction>);
}

}  // namespace

void register_reduce_ops(OpRegistry& registry) {
  add_reduce<Reduction::kSum>(registry, "ReduceSum", 13);
  add_reduce<Reduction::kMean>(registry, "ReduceMean", 18);
  add_reduce<Reduction::kMax>(registry, "ReduceMax", 18);
  add_reduce<Reduction::kL2>(registry, "ReduceL2", 18);
  add_reduce<Reduction::kMin>(registry, "ReduceMin", 18);
  add_reduce<Reduction::kProd>(registry, "ReduceProd", 18);
  add_reduce<Reduction::kSumSquare>(registry, "ReduceSumSquare", 18);
  register_softmax_ops(registry);
  register_normalization_ops(registry);
  register_cumsum_ops(registry);
  register_reduce_stream_rules(registry);
}

}  // namespace amphora
