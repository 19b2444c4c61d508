#include "python/arrays.hpp"

#include <cstring>
#include <iterator>
#include <utility>

#include "amphora/error.hpp"

namespace amphora::python {

namespace {

// numpy will not take a null data pointer, which an empty vector or Tensor may have.
float empty_buffer[1];

struct DTypeName {
  DType dtype;
  nb::dlpack::dtype dlpack;
};

const DTypeName kDTypes[] = {
    {DType::kFloat32, nb::dtype<float>()},  {DType::kFloat64, nb::dtype<double>()},
    {DType::kInt64, nb::dtype<int64_t>()},  {DType::kInt32, nb::dtype<int32_t>()},
    {DType::kInt8, nb::dtype<int8_t>()},    {DType::kUint8, nb::dtype<uint8_t>()},
    {DType::kBool, nb::dtype<bool>()},
};

// "complex64", "float16": the numpy name of a DLPack dtype, for messages.
std::string dlpack_name(nb::dlpack::dtype dtype) {
  static const char* const kinds[] = {"int", "uint", "float", "opaque", "bfloat", "complex",
                                      "bool"};
  const std::string kind = dtype.code < std::size(kinds) ? kinds[dtype.code] : "unknown";
  return kind + std::to_string(dtype.bits);
}

Shape shape_of(size_t ndim, const int64_t* shape) { return Shape(shape, shape + ndim); }

Tensor copied(DType dtype, Shape shape, const void* data) {
  Tensor tensor = Tensor::uninitialized(dtype, std::move(shape));
  if (tensor.nbytes() > 0) std::memcpy(tensor.raw(), data, tensor.nbytes());
  return tensor;
}

}  // namespace

Tensor to_tensor(const FloatArray& array) {
  return copied(DType::kFloat32, shape_of(array.ndim(), array.shape_ptr()), array.data());
}

Tensor to_tensor(const AnyArray& array, const std::string& what) {
  for (const DTypeName& entry : kDTypes) {
    if (entry.dlpack == array.dtype()) {
      return copied(entry.dtype, shape_of(array.ndim(), array.shape_ptr()), array.data());
    }
  }
  throw Error(ErrorCode::kInvalidArgument,
              what + ": dtype " + dlpack_name(array.dtype()) +
                  " is not one amphora stores (float32, float64, int64, int32, int8, uint8, "
                  "bool)");
}

Samples to_numpy(std::vector<float>&& samples) {
  auto* owned = new std::vector<float>(std::move(samples));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
  float* data = owned->empty() ? empty_buffer : owned->data();
  return Samples(data, {owned->size()}, owner);
}

NumpyArray to_numpy(Tensor&& tensor) {
  auto* owned = new Tensor(std::move(tensor));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  if (!owned->sole_owner()) *owned = owned->clone();
  nb::dlpack::dtype dtype{};
  for (const DTypeName& entry : kDTypes) {
    if (entry.dtype == owned->dtype()) dtype = entry.dlpack;
  }
  const std::vector<size_t> shape(owned->shape().begin(), owned->shape().end());
  void* data = owned->numel() == 0 ? static_cast<void*>(empty_buffer) : owned->raw();
  return NumpyArray(data, shape.size(), shape.data(), owner, nullptr, dtype);
}

}  // namespace amphora::python
