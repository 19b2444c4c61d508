#include "core/tensor.hpp"

#include <cstdlib>
#include <cstring>
#include <new>

#include "core/buffer_pool.hpp"

namespace amphora {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kInvalidModel: return "invalid model";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kOutOfRange: return "out of range";
    case ErrorCode::kInternal: return "internal error";
  }
  return "error";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kFloat64: return 8;
    case DType::kInt64: return 8;
    case DType::kInt32: return 4;
    case DType::kInt8: return 1;
    case DType::kUint8: return 1;
    case DType::kBool: return 1;
  }
  return 1;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kFloat32: return "float32";
    case DType::kFloat64: return "float64";
    case DType::kInt64: return "int64";
    case DType::kInt32: return "int32";
    case DType::kInt8: return "int8";
    case DType::kUint8: return "uint8";
    case DType::kBool: return "bool";
  }
  return "?";
}

// Values of onnx::TensorProto_DataType, kept here so core/ does not depend on protobuf.
DType dtype_from_onnx(int onnx_type) {
  switch (onnx_type) {
    case 1: return DType::kFloat32;
    case 2: return DType::kUint8;
    case 3: return DType::kInt8;
    case 6: return DType::kInt32;
    case 7: return DType::kInt64;
    case 9: return DType::kBool;
    case 11: return DType::kFloat64;
  }
  fail(ErrorCode::kUnsupported, "ONNX tensor element type {} is not supported", onnx_type);
}

int dtype_to_onnx(DType t) {
  switch (t) {
    case DType::kFloat32: return 1;
    case DType::kUint8: return 2;
    case DType::kInt8: return 3;
    case DType::kInt32: return 6;
    case DType::kInt64: return 7;
    case DType::kBool: return 9;
    case DType::kFloat64: return 11;
  }
  return 0;
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::kInvalidArgument, "negative dimension in shape {}", shape_str(shape));
    if (d != 0 && n > kMaxTensorElements / d) {
      fail(ErrorCode::kOutOfRange, "shape {} has more than {} elements", shape_str(shape),
           kMaxTensorElements);
    }
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {
struct AlignedFree {
  void operator()(std::byte* p) const { std::free(p); }
};
}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : Tensor(dtype, std::move(shape), true) {}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  return Tensor(dtype, std::move(shape), false);
}

Tensor::Tensor(DType dtype, Shape shape, bool zero_fill)
    : dtype_(dtype), shape_(std::move(shape)) {
  int64_t n = shape_numel(shape_);
  size_t bytes = static_cast<size_t>(n) * dtype_size(dtype_);
  size_t padded = ((bytes + 63) / 64) * 64;
  if (padded == 0) padded = 64;  // keep a valid buffer for empty tensors
  if (BufferPool* pool = BufferPool::active(); pool && padded >= BufferPool::kMinBytes) {
    storage_ = pool->take(padded);
  } else if (auto* p = static_cast<std::byte*>(std::aligned_alloc(64, padded))) {
    storage_ = std::shared_ptr<std::byte[]>(p, AlignedFree{});
  }
  if (!storage_) {
    fail(ErrorCode::kOutOfRange, "cannot allocate {} bytes for shape {}", bytes, shape_str(shape_));
  }
  if (zero_fill) std::memset(storage_.get(), 0, padded);
}

int64_t Tensor::dim(int64_t axis) const {
  int64_t r = rank();
  int64_t a = axis < 0 ? axis + r : axis;
  if (a < 0 || a >= r) fail(ErrorCode::kInvalidArgument, "axis {} out of range for rank {}", axis, r);
  return shape_[static_cast<size_t>(a)];
}

void Tensor::check_type(DType requested) const {
  if (requested != dtype_) {
    fail(ErrorCode::kInternal, "tensor holds {} but was accessed as {}", dtype_name(dtype_),
         dtype_name(requested));
  }
}

Tensor Tensor::reshaped(const Shape& shape) const {
  if (shape_numel(shape) != numel()) {
    fail(ErrorCode::kInvalidArgument, "cannot reshape {} to {}", shape_str(shape_), shape_str(shape));
  }
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

std::vector<int64_t> Tensor::to_int64_vector() const {
  std::vector<int64_t> out(static_cast<size_t>(numel()));
  visit_dtype(dtype_, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      fail(ErrorCode::kInvalidArgument, "expected an integer tensor, got {}", dtype_name(dtype_));
    } else {
      const T* p = data<T>();
      for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(p[i]);
    }
  });
  return out;
}

std::vector<float> Tensor::to_float_vector() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  visit_dtype(dtype_, [&](auto zero) {
    using T = decltype(zero);
    const T* p = data<T>();
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(p[i]);
  });
  return out;
}

}  // namespace amphora
