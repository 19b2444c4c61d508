// Unary math and activations. NaN inputs propagate (comparisons are written so that a NaN
// takes the pass-through branch), matching ONNX Runtime and numpy.
#include <cmath>
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"
#include "ops/elementwise/elementwise_fast.hpp"

namespace amphora {
namespace {

// Two's-complement negation without signed-overflow UB (-INT64_MIN stays INT64_MIN, as in ORT).
template <typename T>
T negate(T x) {
  if constexpr (kIsInt<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(U{0} - static_cast<U>(x));
  } else {
    return -x;
  }
}

// Erf, Exp, Sin, Cos and Tanh: the reference is libm; float32 takes the vectorised fast form
// (elementwise_fast.hpp) unless reference kernels are asked for.
template <typename Libm>
void register_fast_float(OpRegistry& registry, const char* op, int64_t since,
                         void (*fast)(const float*, float*, int64_t), Libm libm) {
  registry.add("", op, since,
               [fast, libm](const Node& node, int64_t, const KernelOptions& options) {
                 const bool reference = options.reference;
                 return std::make_unique<FunctionKernel>(
                     [node, reference, fast, libm](const std::vector<const Tensor*>& inputs) {
                       check_input_count(node, inputs, 1, 1);
                       const Tensor& x = *inputs[0];
                       Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
                       if (x.dtype() == DType::kFloat32 && !reference) {
                         fast(x.data<float>(), y.data<float>(), x.numel());
                       } else if (x.dtype() == DType::kFloat32) {
                         map_elements(x.data<float>(), y.data<float>(), x.numel(),
                                      [libm](float v) { return libm(v); });
                       } else if (x.dtype() == DType::kFloat64) {
                         map_elements(x.data<double>(), y.data<double>(), x.numel(),
                                      [libm](double v) { return libm(v); });
                       } else {
                         fail_dtype(node, 0, x.dtype(), accepts_list(Accepts::kFloat));
                       }
                       return std::vector<Tensor>{y};
                     });
               });
}

}  // namespace

void register_unary_ops(OpRegistry& registry) {
  using enum Accepts;
  add_unary_fn<kSignedNumber>(registry, "Relu", 1,
                              [](auto x) { return x < decltype(x){0} ? decltype(x){0} : x; });
  add_unary<kFloat>(registry, "LeakyRelu", 1, [](const Node& node) {
    const double alpha = node.get_float("alpha", 0.01f);
    return [alpha](auto x) {
      using T = decltype(x);
      return x < T{0} ? static_cast<T>(static_cast<T>(alpha) * x) : x;
    };
  });
  add_unary_fn<kFloat>(registry, "Sigmoid", 1, [](auto x) {
    using T = decltype(x);
    // Split by sign so exp never overflows to inf/inf for large |x|.
    if (x >= T{0}) return T{1} / (T{1} + std::exp(-x));
    T e = std::exp(x);
    return e / (T{1} + e);
  });
  add_unary_fn<kFloat>(registry, "Sqrt", 1, [](auto x) { return std::sqrt(x); });
  register_fast_float(registry, "Exp", 1, exp_fast, [](auto v) { return std::exp(v); });
  add_unary_fn<kFloat>(registry, "Log", 1, [](auto x) { return std::log(x); });
  register_fast_float(registry, "Cos", 7, cos_fast, [](auto v) { return std::cos(v); });
  add_unary_fn<kFloat>(registry, "Atan", 7, [](auto x) { return std::atan(x); });
  register_fast_float(registry, "Erf", 9, erf_fast, [](auto v) { return std::erf(v); });
  register_fast_float(registry, "Sin", 7, sin_fast, [](auto v) { return std::sin(v); });
  register_fast_float(registry, "Tanh", 1, tanh_fast, [](auto v) { return std::tanh(v); });
  add_unary_fn<kFloat>(registry, "Floor", 1, [](auto x) { return std::floor(x); });
  add_unary_fn<kFloat>(registry, "Reciprocal", 1, [](auto x) { return decltype(x){1} / x; });
  add_unary_fn<kFloat>(registry, "Ceil", 1, [](auto x) { return std::ceil(x); });
  // Round: halves go to the even neighbour (the default FE_TONEAREST mode), as ONNX specifies.
  add_unary_fn<kFloat>(registry, "Round", 11, [](auto x) { return std::nearbyint(x); });
  add_unary_fn<kNumber>(registry, "Sign", 9, [](auto x) {
    using T = decltype(x);
    if constexpr (kIsFloat<T>) {
      if (std::isnan(x)) return x;
    }
    return static_cast<T>((T{0} < x) - (x < T{0}));
  });
  add_unary_fn<kSignedNumber>(registry, "Neg", 1, [](auto x) { return negate(x); });
  add_unary_fn<kNumber>(registry, "Abs", 1, [](auto x) {
    using T = decltype(x);
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else {
      return x < T{0} ? negate(x) : x;
    }
  });

  registry.add("", "Not", 1, [](const Node& node, int64_t, const KernelOptions&) {
    return std::make_unique<FunctionKernel>([node](const std::vector<const Tensor*>& inputs) {
      check_input_count(node, inputs, 1, 1);
      const Tensor& x = *inputs[0];
      if (x.dtype() != DType::kBool) fail_dtype(node, 0, x.dtype(), "bool");
      Tensor y(DType::kBool, x.shape());
      map_elements(x.data<bool>(), y.data<bool>(), x.numel(), [](bool v) { return !v; });
      return std::vector<Tensor>{y};
    });
  });
}

}  // namespace amphora
