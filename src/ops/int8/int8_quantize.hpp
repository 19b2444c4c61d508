// Quantizing X for the int8 kernels: QuantizeLinear's arithmetic (round half to even of x /
// scale, saturated to int8, zero point 0), with the fused input activation applied first, and
// the layout change the int8 primitives want done in the same pass over X. The reference path
// uses fake_quantize (the same values, dequantized), so both see identical int8 inputs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace amphora {

// QuantizeLinear to int8 with zero point 0; `slope` is the input activation's negative-side slope
// (1: none). Division, not a multiplication by 1/scale, so that halves round as the spec's do.
// Rounding half to even as nearbyint does in the default mode, but as two additions that the
// compiler vectorises (nearbyint is a libm call that saves the FP environment): adding and
// subtracting 1.5 * 2^23 leaves the nearest integer for |v| < 2^22, and v is clamped to
// [-129, 128] first (everything beyond saturates anyway).
inline int8_t quantize_int8(float v, float slope, float scale) {
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
  v = v >= 0.0f ? v : v * slope;
  const float clamped = std::clamp(v / scale, -129.0f, 128.0f);
  const float rounded = (clamped + kRound) - kRound;
  return static_cast<int8_t>(std::clamp(rounded, -128.0f, 127.0f));
}

// How X's time padding is filled in the quantized copy.
enum class Int8Padding { kZeros, kReflect };

// x [batch, channels, length] float (ncw) -> out [batch, pad_begin + length + pad_end, channels]
// int8 (nwc), the padding materialised (zeros, or X mirrored as ONNX Pad mode reflect). A
// negative pad_end leaves out X's last -pad_end steps instead.
void quantize_ncw_to_nwc(const float* x, int64_t batch, int64_t channels, int64_t length,
                         int64_t pad_begin, int64_t pad_end, Int8Padding padding, float slope,
                         float scale, int8_t* out);

// Row-major x with n values -> out, element by element (a matmul's A is already [M, K]).
void quantize_dense(const float* x, int64_t n, float slope, float scale, int8_t* out);

// x -> scale * quantize_int8(x): what DequantizeLinear(QuantizeLinear(act(x))) gives, in place.
void fake_quantize(float* x, int64_t n, float slope, float scale);

}  // namespace amphora
