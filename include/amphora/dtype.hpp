// Element types the engine stores. float32 is the compute type; the integer and bool types
// exist for shape computations, indices, masks and embeddings.
#pragma once

#include <cstddef>
#include <cstdint>

namespace amphora {

enum class DType : uint8_t { kFloat32, kFloat64, kInt64, kInt32, kInt8, kUint8, kBool };

size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "int64", ...

// Maps a C++ type to its DType at compile time: dtype_of<float>() == DType::kFloat32.
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kFloat32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::kFloat64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kInt64;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kInt32;
}
template <>
constexpr DType dtype_of<int8_t>() {
  return DType::kInt8;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kUint8;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::kBool;
}

}  // namespace amphora
