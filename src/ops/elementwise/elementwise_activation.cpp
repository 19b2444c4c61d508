// Activations and math that the target vocoders do not use but that other PyTorch exports
// commonly contain (ELU/SELU/PReLU/Softplus variants, hyperbolic and inverse trig functions,
// NaN/Inf tests). Same reference style as elementwise_unary.cpp; attribute defaults are the
// ONNX ones.
#include <cmath>
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {
namespace {

// Reads a float attribute once at kernel creation; used by the attribute-driven activations.
float attr(const Node& node, const char* name, float fallback) {
  return node.get_float(name, fallback);
}

// IsNaN / IsInf: float in, bool out.
template <typename Predicate>
std::unique_ptr<Kernel> make_float_test(const Node& node, Predicate predicate) {
  return std::make_unique<FunctionKernel>([node, predicate](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 1, 1);
    const Tensor& x = *in[0];
    Tensor y(DType::kBool, x.shape());
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsFloat<T>) {
        map_elements(x.data<T>(), y.data<bool>(), x.numel(), predicate);
      } else {
        fail_dtype(node, 0, x.dtype(), "float32, float64");
      }
    });
    return std::vector<Tensor>{y};
  });
}

}  // namespace

void register_activation_ops(OpRegistry& registry) {
  using enum Accepts;
  add_unary_fn<kFloat>(registry, "Tan", 7, [](auto x) { return std::tan(x); });
  add_unary_fn<kFloat>(registry, "Asin", 7, [](auto x) { return std::asin(x); });
  add_unary_fn<kFloat>(registry, "Acos", 7, [](auto x) { return std::acos(x); });
  add_unary_fn<kFloat>(registry, "Sinh", 9, [](auto x) { return std::sinh(x); });
  add_unary_fn<kFloat>(registry, "Cosh", 9, [](auto x) { return std::cosh(x); });
  add_unary_fn<kFloat>(registry, "Asinh", 9, [](auto x) { return std::asinh(x); });
  add_unary_fn<kFloat>(registry, "Acosh", 9, [](auto x) { return std::acosh(x); });
  add_unary_fn<kFloat>(registry, "Atanh", 9, [](auto x) { return std::atanh(x); });
  add_unary_fn<kFloat>(registry, "Softplus", 1, [](auto x) {
    using T = decltype(x);
    // log(1 + e^x) without overflow: for large x it is x + log1p(e^-x).
    return x > T{0} ? static_cast<T>(x + std::log1p(std::exp(-x))) : std::log1p(std::exp(x));
  });
  add_unary_fn<kFloat>(registry, "Softsign", 1,
                       [](auto x) { return x / (decltype(x){1} + std::fabs(x)); });
  add_unary<kFloat>(registry, "Elu", 6, [](const Node& node) {
    const double alpha = attr(node, "alpha", 1.0f);
    return [alpha](auto x) {
      using T = decltype(x);
      return x < T{0} ? static_cast<T>(alpha * std::expm1(static_cast<double>(x))) : x;
    };
  });
  add_unary<kFloat>(registry, "Selu", 6, [](const Node& node) {
    const double alpha = attr(node, "alpha", 1.67326319217681884765625f);
    const double gamma = attr(node, "gamma", 1.05070102214813232421875f);
    return [alpha, gamma](auto x) {
      using T = decltype(x);
      const double v = static_cast<double>(x);
      return static_cast<T>(x > T{0} ? gamma * v : gamma * (alpha * std::exp(v) - alpha));
    };
  });
  add_unary<kFloat>(registry, "Celu", 12, [](const Node& node) {
    const double alpha = attr(node, "alpha", 1.0f);
    return [alpha](auto x) {
      using T = decltype(x);
      const double v = static_cast<double>(x);
      return static_cast<T>(std::max(0.0, v) + std::min(0.0, alpha * std::expm1(v / alpha)));
    };
  });
  add_unary<kFloat>(registry, "HardSigmoid", 6, [](const Node& node) {
    const double alpha = attr(node, "alpha", 0.2f);
    const double beta = attr(node, "beta", 0.5f);
    return [alpha, beta](auto x) {
      using T = decltype(x);
      return static_cast<T>(std::max(0.0, std::min(1.0, alpha * static_cast<double>(x) + beta)));
    };
  });
  add_unary_fn<kFloat>(registry, "HardSwish", 14, [](auto x) {
    using T = decltype(x);
    const double v = static_cast<double>(x);
    return static_cast<T>(v * std::max(0.0, std::min(1.0, v / 6.0 + 0.5)));
  });
  add_unary<kFloat>(registry, "ThresholdedRelu", 10, [](const Node& node) {
    const double alpha = attr(node, "alpha", 1.0f);
    return [alpha](auto x) {
      using T = decltype(x);
      return static_cast<double>(x) > alpha ? x : T{0};
    };
  });

  registry.add("", "IsNaN", 9, [](const Node& node, int64_t, const KernelOptions&) {
    return make_float_test(node, [](auto v) { return std::isnan(v); });
  });
  registry.add("", "IsInf", 10, [](const Node& node, int64_t, const KernelOptions&) {
    const bool negative = node.get_int("detect_negative", 1) != 0;
    const bool positive = node.get_int("detect_positive", 1) != 0;
    return make_float_test(node, [negative, positive](auto v) {
      return std::isinf(v) && (v > 0 ? positive : negative);
    });
  });
}

}  // namespace amphora
