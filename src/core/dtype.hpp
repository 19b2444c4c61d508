// DType (amphora/dtype.hpp, public) plus what only libamphora needs with it: the mapping to
// ONNX's element types and the one switch every typed kernel dispatches through.
#pragma once

#include "amphora/dtype.hpp"

namespace amphora {

// ONNX TensorProto.DataType <-> DType. from_onnx fails with kUnsupported for other types.
DType dtype_from_onnx(int onnx_type);
int dtype_to_onnx(DType t);

// Calls fn(T{}) with T the C++ type of `t`; the one switch every typed kernel dispatches through.
template <typename Fn>
decltype(auto) visit_dtype(DType t, Fn&& fn) {
  switch (t) {
    case DType::kFloat32:
      return fn(float{});
    case DType::kFloat64:
      return fn(double{});
    case DType::kInt64:
      return fn(int64_t{});
    case DType::kInt32:
      return fn(int32_t{});
    case DType::kInt8:
      return fn(int8_t{});
    case DType::kUint8:
      return fn(uint8_t{});
    case DType::kBool:
      return fn(bool{});
  }
  return fn(float{});
}

}  // namespace amphora
