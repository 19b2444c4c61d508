// NumPy .npy files: the exchange format between the CLI, the tests and Python.
// Reads v1/v2/v3 headers (little-endian, C order) and writes v1 (v2 only when
// the header needs it), so files round-trip with numpy.save / numpy.load.
#pragma once

#include <string>

#include "core/tensor.hpp"

namespace amphora {

// Reads a .npy file. dtypes: f4 f8 i8 i4 i1 u1 b1. Fails naming the file with
// kIo (missing, unreadable, truncated), kInvalidArgument (bad magic, malformed
// header, trailing bytes) or kUnsupported (Fortran order, big-endian, other
// dtypes).
Tensor read_npy(const std::string& path);
// Writes `tensor` as .npy; fails with kIo naming the file when it cannot be
// written.
void write_npy(const std::string& path, const Tensor& tensor);

// The same, on bytes in memory. `source` names the data in error messages.
Tensor parse_npy(const std::string& bytes, const std::string& source);
std::string encode_npy(const Tensor& tensor);

}  // namespace amphora
