// Broadcasting binary ops (numpy rules since opset 7, ONNX's older one-way broadcast before):
// arithmetic (Add, Sub, Mul, Div, Mod, Pow), comparisons (Equal, Less, Greater) and logic (And). Integer
// arithmetic wraps like two's complement hardware instead of invoking signed-overflow UB; integer
// Div truncates toward zero and refuses a zero divisor (a SIGFPE would kill the host process).
#include <algorithm>
#include <cmath>
#include <memory>

#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {
namespace {

constexpr const char* kNumbers = "float32, float64, int8, uint8, int32, int64";

// Arithmetic on the unsigned twin of T so that overflow wraps instead of being UB.
template <typename T, typename Op>
T wrapping(T a, T b, Op op) {
  if constexpr (kIsInt<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(op(static_cast<U>(a), static_cast<U>(b)));
  } else {
    return static_cast<T>(op(a, b));
  }
}

template <typename T>
void check_nonzero_divisor(const Node& node, const Tensor& divisor) {
  const T* p = divisor.data<T>();
  for (int64_t i = 0; i < divisor.numel(); ++i) {
    if (p[i] == T{0}) {
      fail(ErrorCode::kInvalidArgument, "{}: integer division by zero (input #1 '{}', element {})",
           node.display_name(), node.inputs.size() > 1 ? node.inputs[1] : "?", i);
    }
  }
}

Shape binary_output_shape(const Node& node, const Tensor& a, const Tensor& b) {
  return broadcast_shapes(node, {a.shape(), b.shape()});
}

// Before opset 7 binary ops broadcast only B onto A, and only with broadcast=1; `axis` says
// where B's dims start in A (default: aligned at the end). Returns B reshaped so that numpy
// rules give exactly that, or fails when B does not fit A.
Tensor legacy_operand(const Node& node, const Tensor& a, const Tensor& b) {
  if (node.get_int("broadcast", 0) == 0) {
    if (a.shape() != b.shape()) {
      fail(ErrorCode::kInvalidArgument,
           "{}: shapes {} and {} differ and broadcast=0 (opset < 7 needs equal shapes)",
           node.display_name(), shape_str(a.shape()), shape_str(b.shape()));
    }
    return b;
  }
  const int64_t axis = node.get_int("axis", a.rank() - b.rank());
  if (axis < 0 || axis + b.rank() > a.rank()) {
    fail(ErrorCode::kInvalidArgument, "{}: cannot broadcast {} onto {} at axis {}",
         node.display_name(), shape_str(b.shape()), shape_str(a.shape()), axis);
  }
  Shape aligned(static_cast<size_t>(a.rank()), 1);
  std::copy(b.shape().begin(), b.shape().end(), aligned.begin() + axis);
  if (broadcast_shapes(node, {a.shape(), aligned}) != a.shape()) {
    fail(ErrorCode::kInvalidArgument, "{}: cannot broadcast {} onto {} at axis {}",
         node.display_name(), shape_str(b.shape()), shape_str(a.shape()), axis);
  }
  return b.reshaped(aligned);
}

// The second operand as the kernel should see it at this opset.
Tensor second_operand(const Node& node, int64_t opset, const Tensor& a, const Tensor& b) {
  return opset < 7 ? legacy_operand(node, a, b) : b;
}

// Arithmetic ops whose inputs and output share the numeric type T.
template <typename MakeFn>
void add_arithmetic(OpRegistry& registry, const char* op_type, MakeFn make_fn) {
  registry.add("", op_type, 1, [make_fn](const Node& node, int64_t opset, const KernelOptions&) {
    return std::make_unique<FunctionKernel>(
        [node, opset, make_fn](const std::vector<const Tensor*>& in) {
          check_input_count(node, in, 2, 2);
          check_same_dtype(node, in, 0, 1);
          const Tensor& a = *in[0];
          const Tensor b = second_operand(node, opset, a, *in[1]);
          Tensor out = Tensor::uninitialized(a.dtype(), binary_output_shape(node, a, b));
          visit_dtype(a.dtype(), [&](auto zero) {
            using T = decltype(zero);
            if constexpr (kIsNumber<T>) {
              broadcast_binary<T, T, T>(a, b, out, make_fn(node, b, T{}));
            } else {
              fail_dtype(node, 0, a.dtype(), kNumbers);
            }
          });
          return std::vector<Tensor>{out};
        });
  });
}

// Comparisons and logic: bool output.
template <typename Accept, typename Fn>
void add_predicate(OpRegistry& registry, const char* op_type, int64_t since, const char* supported,
                   Accept accept, Fn fn) {
  registry.add("", op_type, since, [=](const Node& node, int64_t opset, const KernelOptions&) {
    return std::make_unique<FunctionKernel>(
        [node, opset, supported, accept, fn](const std::vector<const Tensor*>& in) {
          check_input_count(node, in, 2, 2);
          check_same_dtype(node, in, 0, 1);
          const Tensor& a = *in[0];
          const Tensor b = second_operand(node, opset, a, *in[1]);
          Tensor out(DType::kBool, binary_output_shape(node, a, b));
          visit_dtype(a.dtype(), [&](auto zero) {
            using T = decltype(zero);
            if constexpr (decltype(accept(zero))::value) {
              broadcast_binary<T, T, bool>(a, b, out, fn);
            } else {
              fail_dtype(node, 0, a.dtype(), supported);
            }
          });
          return std::vector<Tensor>{out};
        });
  });
}

template <typename Base, typename Exponent>
Base power(Base base, Exponent exponent) {
  if constexpr (kIsFloat<Base>) {
    // Squaring (Snake activations, variances) is exact as a product; ORT special-cases it too.
    if (exponent == Exponent{2}) return base * base;
  }
  if constexpr (std::is_same_v<Base, float> && std::is_same_v<Exponent, float>) {
    return std::pow(base, exponent);
  } else {
    // Mixed and integer cases go through double, as ORT and numpy do; the cast back truncates.
    return static_cast<Base>(std::pow(static_cast<double>(base), static_cast<double>(exponent)));
  }
}

std::unique_ptr<Kernel> make_pow(const Node& node, int64_t opset, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([node, opset](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 2, 2);
    const Tensor& base = *in[0];
    const Tensor exponent = second_operand(node, opset, base, *in[1]);
    Tensor out(base.dtype(), binary_output_shape(node, base, exponent));
    visit_dtype(base.dtype(), [&](auto base_zero) {
      using B = decltype(base_zero);
      if constexpr (kIsFloat<B> || std::is_same_v<B, int32_t> || std::is_same_v<B, int64_t>) {
        visit_dtype(exponent.dtype(), [&](auto exponent_zero) {
          using E = decltype(exponent_zero);
          if constexpr (kIsNumber<E>) {
            broadcast_binary<B, E, B>(base, exponent, out, [](B x, E y) { return power(x, y); });
          } else {
            fail_dtype(node, 1, exponent.dtype(), kNumbers);
          }
        });
      } else {
        fail_dtype(node, 0, base.dtype(), "float32, float64, int32, int64");
      }
    });
    return std::vector<Tensor>{out};
  });
}

template <typename T>
struct IsNumber : std::bool_constant<kIsNumber<T>> {};
template <typename T>
struct IsNumberOrBool : std::bool_constant<kIsNumber<T> || std::is_same_v<T, bool>> {};

// PRelu: slope is broadcast onto X (one way), so the output always has X's shape.
std::unique_ptr<Kernel> make_prelu(const Node& node, int64_t, const KernelOptions&) {
  return std::make_unique<FunctionKernel>([node](const std::vector<const Tensor*>& in) {
    check_input_count(node, in, 2, 2);
    check_same_dtype(node, in, 0, 1);
    const Tensor& x = *in[0];
    const Tensor& slope = *in[1];
    if (binary_output_shape(node, x, slope) != x.shape()) {
      fail(ErrorCode::kInvalidArgument, "{}: slope of shape {} does not broadcast onto X {}",
           node.display_name(), shape_str(slope.shape()), shape_str(x.shape()));
    }
    Tensor out(x.dtype(), x.shape());
    visit_dtype(x.dtype(), [&](auto zero) {
      using T = decltype(zero);
      if constexpr (kIsFloat<T> || (kIsInt<T> && std::is_signed_v<T>)) {
        broadcast_binary<T, T, T>(x, slope, out, [](T v, T a) {
          return v < T{0} ? wrapping(v, a, [](auto p, auto q) { return p * q; }) : v;
        });
      } else {
        fail_dtype(node, 0, x.dtype(), "float32, float64, int8, int32, int64");
      }
    });
    return std::vector<Tensor>{out};
  });
}

}  // namespace

void register_binary_ops(OpRegistry& registry) {
  add_arithmetic(registry, "Add", [](const Node&, const Tensor&, auto zero) {
    using T = decltype(zero);
    return [](T a, T b) { return wrapping(a, b, [](auto x, auto y) { return x + y; }); };
  });
  add_arithmetic(registry, "Sub", [](const Node&, const Tensor&, auto zero) {
    using T = decltype(zero);
    return [](T a, T b) { return wrapping(a, b, [](auto x, auto y) { return x - y; }); };
  });
  add_arithmetic(registry, "Mul", [](const Node&, const Tensor&, auto zero) {
    using T = decltype(zero);
    return [](T a, T b) { return wrapping(a, b, [](auto x, auto y) { return x * y; }); };
  });
  add_arithmetic(registry, "Div", [](const Node& node, const Tensor& divisor, auto zero) {
    using T = decltype(zero);
    if constexpr (kIsInt<T>) check_nonzero_divisor<T>(node, divisor);
    return [](T a, T b) -> T {
      if constexpr (kIsInt<T> && std::is_signed_v<T>) {
        // MIN / -1 overflows (and traps on x86); it wraps to MIN like the other ops.
        if (b == T{-1}) return wrapping(T{0}, a, [](auto x, auto y) { return x - y; });
      }
      return static_cast<T>(a / b);
    };
  });
  // Mod: fmod=1 is C's fmod (the dividend's sign); fmod=0, for integers only, is Python's %
  // (the divisor's sign), which torch's remainder exports as.
  add_arithmetic(registry, "Mod", [](const Node& node, const Tensor& divisor, auto zero) {
    using T = decltype(zero);
    const bool c_fmod = node.get_int("fmod", 0) != 0;
    if constexpr (kIsFloat<T>) {
      if (!c_fmod) {
        fail(ErrorCode::kInvalidModel, "{}: Mod of floats needs fmod=1", node.display_name());
      }
    } else {
      check_nonzero_divisor<T>(node, divisor);
    }
    return [c_fmod](T a, T b) -> T {
      if constexpr (kIsFloat<T>) {
        return std::fmod(a, b);
      } else {
        if constexpr (std::is_signed_v<T>) {
          if (b == T{-1}) return T{0};  // MIN % -1 traps on x86; the remainder is 0
        }
        T r = static_cast<T>(a % b);
        if constexpr (std::is_signed_v<T>) {
          if (!c_fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
        }
        return r;
      }
    };
  });
  registry.add("", "Pow", 1, make_pow);
  registry.add("", "PRelu", 7, make_prelu);

  auto number = [](auto zero) { return IsNumber<decltype(zero)>{}; };
  auto number_or_bool = [](auto zero) { return IsNumberOrBool<decltype(zero)>{}; };
  auto boolean = [](auto zero) { return std::is_same<decltype(zero), bool>{}; };
  add_predicate(registry, "Equal", 1, "bool, float32, float64, int8, uint8, int32, int64",
                number_or_bool, [](auto a, auto b) { return a == b; });
  add_predicate(registry, "Less", 1, kNumbers, number, [](auto a, auto b) { return a < b; });
  add_predicate(registry, "Greater", 1, kNumbers, number, [](auto a, auto b) { return a > b; });
  add_predicate(registry, "And", 1, "bool", boolean, [](auto a, auto b) { return a && b; });
  // Not in the exports this engine was built for, but what torch emits for >=, <=, |, ^.
  add_predicate(registry, "GreaterOrEqual", 12, kNumbers, number,
                [](auto a, auto b) { return a >= b; });
  add_predicate(registry, "LessOrEqual", 12, kNumbers, number,
                [](auto a, auto b) { return a <= b; });
  add_predicate(registry, "Or", 1, "bool", boolean, [](auto a, auto b) { return a || b; });
  add_predicate(registry, "Xor", 1, "bool", boolean, [](auto a, auto b) { return a != b; });
}

}  // namespace amphora
