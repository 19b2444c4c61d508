// Shared machinery of the elementwise and reduction kernels: dtype dispatch with errors that
// name the node, and loops (plain and broadcasting) that go parallel on large tensors.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/tensor.hpp"
#include "graph/ir.hpp"
#include "ops/broadcast.hpp"
#include "ops/kernel.hpp"

namespace amphora {

// The parts of register_elementwise_ops, one per file.
void register_unary_ops(OpRegistry& registry);      // elementwise_unary.cpp
void register_binary_ops(OpRegistry& registry);     // elementwise_binary.cpp
void register_selection_ops(OpRegistry& registry);  // elementwise_select.cpp: Min, Max, Clip, Where
void register_cast_ops(OpRegistry& registry);       // elementwise_cast.cpp
void register_activation_ops(OpRegistry& registry);  // elementwise_activation.cpp: less common ones

// Below this many elements the OpenMP fork/join costs more than the loop itself.
constexpr int64_t kParallelElements = 32768;

// kUnsupported "<node>: input #i 'name' has dtype D, which Op does not support (supports: ...)".
[[noreturn]] void fail_dtype(const Node& node, size_t input, DType dtype, const char* supported);
// kInvalidArgument when inputs that share the ONNX type variable T differ in dtype.
void check_same_dtype(const Node& node, const std::vector<const Tensor*>& inputs, size_t first,
                      size_t last);

template <typename T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;
template <typename T>
constexpr bool kIsInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
constexpr bool kIsNumber = kIsFloat<T> || kIsInt<T>;

// Applies fn to every element; parallel over large tensors.
template <typename In, typename Out, typename Fn>
void map_elements(const In* in, Out* out, int64_t n, Fn fn) {
#pragma omp parallel for schedule(static) if (n > kParallelElements)
  for (int64_t i = 0; i < n; ++i) out[i] = fn(in[i]);
}

// Which element types an op accepts, following the ONNX type constraints of its latest version
// restricted to the dtypes amphora stores.
enum class Accepts { kFloat, kSignedNumber, kNumber };

template <Accepts kAccepts, typename T>
constexpr bool accepts() {
  if constexpr (kAccepts == Accepts::kFloat) return kIsFloat<T>;
  if constexpr (kAccepts == Accepts::kSignedNumber)
    return kIsFloat<T> || (kIsInt<T> && std::is_signed_v<T>);
  return kIsNumber<T>;
}

inline constexpr const char* accepts_list(Accepts a) {
  switch (a) {
    case Accepts::kFloat:
      return "float32, float64";
    case Accepts::kSignedNumber:
      return "float32, float64, int8, int32, int64";
    case Accepts::kNumber:
      return "float32, float64, int8, uint8, int32, int64";
  }
  return "";
}

// make_fn(node) returns a generic callable applied to every element; it is built once per
// node so attributes (LeakyRelu's alpha) are read at kernel creation.
template <Accepts kAccepts, typename MakeFn>
void add_unary(OpRegistry& registry, const char* op_type, int64_t since, MakeFn make_fn) {
  registry.add("", op_type, since, [make_fn](const Node& node, int64_t, const KernelOptions&) {
    auto fn = make_fn(node);
    return std::make_unique<FunctionKernel>([node, fn](const std::vector<const Tensor*>& inputs) {
      check_input_count(node, inputs, 1, 1);
      const Tensor& x = *inputs[0];
      Tensor y = Tensor::uninitialized(x.dtype(), x.shape());
      visit_dtype(x.dtype(), [&](auto zero) {
        using T = decltype(zero);
        if constexpr (accepts<kAccepts, T>()) {
          map_elements(x.data<T>(), y.data<T>(), x.numel(),
                       [&fn](T v) { return static_cast<T>(fn(v)); });
        } else {
          fail_dtype(node, 0, x.dtype(), accepts_list(kAccepts));
        }
      });
      return std::vector<Tensor>{y};
    });
  });
}

// For ops without attributes.
template <Accepts kAccepts, typename Fn>
void add_unary_fn(OpRegistry& registry, const char* op_type, int64_t since, Fn fn) {
  add_unary<kAccepts>(registry, op_type, since, [fn](const Node&) { return fn; });
}

// Visits the output of an N-input broadcast one innermost row at a time:
// row_fn(out_offset, in_offsets, row_length) with in_offsets[j] the element of input j that the
// row starts at; input j then advances by strides[j].back() per element (0 when broadcast).
// Rows are independent, so large outputs are split across threads.
template <size_t N, typename RowFn>
void for_each_broadcast_row(const Shape& out, const std::array<std::vector<int64_t>, N>& strides,
                            RowFn row_fn) {
  const int64_t numel = shape_numel(out);
  if (numel == 0) return;
  if (out.empty()) {
    row_fn(int64_t{0}, std::array<int64_t, N>{}, int64_t{1});
    return;
  }
  const int64_t rank = static_cast<int64_t>(out.size());
  const int64_t row_length = out.back();
  const int64_t rows = numel / row_length;
#pragma omp parallel for schedule(static) if (numel > kParallelElements)
  for (int64_t row = 0; row < rows; ++row) {
    std::array<int64_t, N> offsets{};
    int64_t rest = row;
    for (int64_t axis = rank - 2; axis >= 0; --axis) {
      int64_t index = rest % out[axis];
      rest /= out[axis];
      for (size_t j = 0; j < N; ++j) offsets[j] += index * strides[j][axis];
    }
    row_fn(row * row_length, offsets, row_length);
  }
}

// out[k] = fn(a[.], b[.]) over the broadcast of a and b; the output must be allocated with the
// broadcast shape.
template <typename A, typename B, typename Out, typename Fn>
void broadcast_binary(const Tensor& a, const Tensor& b, Tensor& out, Fn fn) {
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  Out* po = out.data<Out>();
  if (a.shape() == b.shape()) {  // the common case in vocoders: no index arithmetic at all
    const int64_t n = out.numel();
#pragma omp parallel for schedule(static) if (n > kParallelElements)
    for (int64_t i = 0; i < n; ++i) po[i] = fn(pa[i], pb[i]);
    return;
  }
  std::array<std::vector<int64_t>, 2> strides = {broadcast_strides(a.shape(), out.shape()),
                                                 broadcast_strides(b.shape(), out.shape())};
  const int64_t sa = strides[0].empty() ? 0 : strides[0].back();
  const int64_t sb = strides[1].empty() ? 0 : strides[1].back();
  for_each_broadcast_row<2>(out.shape(), strides,
                            [&](int64_t o, const std::array<int64_t, 2>& in, int64_t length) {
                              const A* ra = pa + in[0];
                              const B* rb = pb + in[1];
                              for (int64_t k = 0; k < length; ++k) {
                                po[o + k] = fn(ra[k * sa], rb[k * sb]);
                              }
                            });
}

void register_elementwise_stream_rules(OpRegistry& registry);  // elementwise_stream.cpp

}  // namespace amphora
