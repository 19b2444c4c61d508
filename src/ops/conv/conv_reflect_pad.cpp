#include "ops/conv/conv_reflect_pad.hpp"

#include <algorithm>

namespace amphora {

ReflectPadded reflect_padded(const ConvGeometry& g, const Tensor& x) {
  const int64_t begin = g.pad_begin[0], end = g.pad_end[0];
  const int64_t length = x.shape().back(), rows = x.numel() / std::max<int64_t>(length, 1);
  Shape padded_shape = x.shape();
  padded_shape.back() = length + begin + end;
  ReflectPadded padded{g, Tensor::uninitialized(DType::kFloat32, padded_shape)};
  padded.geometry.in = {padded_shape.back()};
  padded.geometry.pad_begin = padded.geometry.pad_end = {0};
  const int64_t padded_length = padded_shape.back();
#pragma omp parallel for schedule(static) if (rows * length > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x.data<float>() + r * length;
    float* out = padded.x.data<float>() + r * padded_length;
    for (int64_t i = 0; i < begin; ++i) out[i] = in[begin - i];
    std::copy(in, in + length, out + begin);
    for (int64_t i = 0; i < end; ++i) out[begin + length + i] = in[length - 2 - i];
  }
  return padded;
}

}  // namespace amphora
