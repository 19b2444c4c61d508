// Cast between the dtypes amphora stores. Float -> integer truncates toward zero as ONNX says;
// values C++ cannot convert without UB (NaN, out of the target's range) are defined here:
// NaN becomes 0 and out-of-range values saturate to the target's limits. Integer -> integer
// wraps modulo 2^bits; anything -> bool is "!= 0" (NaN is true).
#include <cmath>
#include <limits>
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {
namespace {

template <typename To, typename From>
To convert(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    return v != From{0};
  } else if constexpr (kIsFloat<From> && kIsInt<To>) {
    if (std::isnan(v)) return To{0};
    // Compare in long double so the limits of int64 are represented exactly enough.
    const long double t = std::trunc(static_cast<long double>(v));
    if (t <= static_cast<long double>(std::numeric_limits<To>::lowest())) {
      return std::numeric_limits<To>::lowest();
    }
    if (t >= static_cast<long double>(std::numeric_limits<To>::max())) {
      return std::numeric_limits<To>::max();
    }
    return static_cast<To>(t);
  } else {
    return static_cast<To>(v);
  }
}

std::unique_ptr<Kernel> make_cast(const Node& node, int64_t, const KernelOptions&) {
  const int64_t to_onnx = node.get_int("to");
  DType to;
  try {
    to = dtype_from_onnx(static_cast<int>(to_onnx));
  } catch (const Error&) {
    fail(ErrorCode::kUnsupported, "{}: cast to ONNX element type {} is not supported",
         node.display_name(), to_onnx);
  }
  return std::make_unique<FunctionKernel>([node, to](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 1, 1);
    const Tensor& x = *in[0];
    if (x.dtype() == to) return std::vector<Tensor>{x};  // a no-op cast shares the buffer
    Tensor y(to, x.shape());
    visit_dtype(x.dtype(), [&](auto from_zero) {
      using From = decltype(from_zero);
      visit_dtype(to, [&](auto to_zero) {
        using To = decltype(to_zero);
        map_elements(x.data<From>(), y.data<To>(), x.numel(),
                     [](From v) { return convert<To, From>(v); });
      });
    });
    return std::vector<Tensor>{y};
  });
}

}  // namespace

void register_cast_ops(OpRegistry& registry) { registry.add("", "Cast", 6, make_cast); }

}  // namespace amphora
