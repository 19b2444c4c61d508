// numpy <-> amphora::Tensor at the module's boundary.
//
// Out: numpy gets the library's own buffer -- a moved std::vector<float> of samples, or a
// model output's Tensor storage -- kept alive by a capsule, so no audio is copied.
// In: an array is copied once into a Tensor. The public Tensor owns its 64-byte aligned buffer
// and cannot wrap numpy's memory; the copy is of the mel, hop_length times smaller than the
// audio made from it. Arrays of another dtype or order are converted by nanobind first.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <string>
#include <vector>

#include "amphora/tensor.hpp"

namespace amphora::python {

namespace nb = nanobind;

// float32, C order, on the CPU; read-only arrays (np.frombuffer) are fine.
using FloatArray = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;
// Any dtype amphora stores (float32/64, int64/32/8, uint8, bool), C order.
using AnyArray = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;
using NumpyArray = nb::ndarray<nb::numpy>;
using Samples = nb::ndarray<nb::numpy, float, nb::ndim<1>>;

Tensor to_tensor(const FloatArray& array);
// `what` names the array in the error for a dtype amphora does not store.
Tensor to_tensor(const AnyArray& array, const std::string& what);

Samples to_numpy(std::vector<float>&& samples);
// Shares the Tensor's buffer when nothing else holds it (else a copy, so that writing to the
// array cannot change what the model keeps).
NumpyArray to_numpy(Tensor&& tensor);

}  // namespace amphora::python
