// Tensor: a dtype, a shape and a shared, 64-byte aligned buffer in C (row-major) order.
// Copies share the buffer (cheap); clone() makes an independent copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "amphora/dtype.hpp"
#include "amphora/error.hpp"

namespace amphora {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[1, 80, 512]"

// Upper bound on the elements of one tensor (8 GiB of float32, a third of the machines we target);
// larger requests are refused with kOutOfRange instead of failing inside the allocator or being
// killed for memory (e.g. a 10^9-frame input).
constexpr int64_t kMaxTensorElements = int64_t{1} << 31;

class Tensor {
 public:
  Tensor() = default;
  // Allocates a zero-filled tensor. Fails with kOutOfRange when the shape is absurd.
  Tensor(DType dtype, Shape shape);
  // The same without the zero fill, for outputs a kernel writes completely: on large
  // activations the fill is a serial pass over memory that costs as much as a cheap kernel.
  static Tensor uninitialized(DType dtype, Shape shape);

  template <typename T>
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values);
  template <typename T>
  static Tensor scalar(T value) {
    return from_vector<T>({}, {value});
  }

  bool empty() const { return !storage_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  // Typed access; fails with kInternal when T does not match dtype().
  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }

  // Whether no other Tensor shares this buffer (a graph rewrite may then change it in place).
  bool sole_owner() const { return storage_.use_count() == 1; }
  // Same buffer, new shape with the same element count.
  Tensor reshaped(const Shape& shape) const;
  Tensor clone() const;
  // Values as int64 (from any integer dtype); for shape/axes/indices inputs.
  std::vector<int64_t> to_int64_vector() const;
  // Values as float32 copies (from any dtype); for tests and comparisons.
  std::vector<float> to_float_vector() const;

 private:
  Tensor(DType dtype, Shape shape, bool zero_fill);
  void check_type(DType requested) const;

  DType dtype_ = DType::kFloat32;
  Shape shape_;
  std::shared_ptr<std::byte[]> storage_;
};

template <typename T>
T* Tensor::data() {
  check_type(dtype_of<T>());
  return reinterpret_cast<T*>(storage_.get());
}

template <typename T>
const T* Tensor::data() const {
  check_type(dtype_of<T>());
  return reinterpret_cast<const T*>(storage_.get());
}

template <typename T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values) {
  Tensor t(dtype_of<T>(), shape);
  if (static_cast<int64_t>(values.size()) != t.numel()) {
    throw Error(ErrorCode::kInternal, "from_vector: " + std::to_string(values.size()) +
                                          " values for shape " + shape_str(shape));
  }
  T* out = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

}  // namespace amphora
