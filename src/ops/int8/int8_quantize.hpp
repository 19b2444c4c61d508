// Quantizing X for the int8 kernels, with the fused input activation applied first and the
// layout change the int8 primitives want done in the same pass over X:
//   - static (QuantizeLinear, zero point 0): q = saturate_int8(round(x / scale));
//   - dynamic (DynamicQuantizeLinear): scale and zero point from X's range, then
//     q = saturate_uint8(round(x / scale) + zero_point).
// Rounding is half to even as the spec's, division (not a multiplication by 1/scale) as in the
// reference kernels, so both paths see identical quantized inputs; the reference path uses
// fake_quantize (the same values, dequantized).
#pragma once

#include <algorithm>
#include <cstdint>

namespace amphora {

struct Quantizer {
  float slope = 1.0f;  // the input activation's negative-side slope (1: none, 0: Relu)
  float scale = 1.0f;
  float zero_point = 0.0f;
  bool is_unsigned = false;  // uint8 [0, 255] (dynamic) or int8 [-128, 127] (static)

  static Quantizer int8(float slope, float scale) { return {slope, scale, 0.0f, false}; }
  // DynamicQuantizeLinear's scale and zero point for act(x): [min(x, 0), max(x, 0)] onto
  // [0, 255]. scale is 0 when act(x) is all zeros (then every value quantizes to 0).
  static Quantizer dynamic(const float* x, int64_t n, float slope);

  float low() const { return is_unsigned ? 0.0f : -128.0f; }
  float high() const { return is_unsigned ? 255.0f : 127.0f; }
  // The quantized value of v, as a float. Half to even as nearbyint does in the default mode,
  // but as two additions the compiler vectorises (nearbyint is a libm call that saves the FP
  // environment): adding and subtracting 1.5 * 2^23 leaves the nearest integer for |v| < 2^22;
  // v / scale is clamped to +-512 first (everything beyond saturates anyway).
  float quantize(float v) const {
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
    v = v >= 0.0f ? v : v * slope;
    const float clamped = std::clamp(v / scale, -512.0f, 512.0f);
    const float rounded = (clamped + kRound) - kRound;
    return std::clamp(rounded + zero_point, low(), high());
  }
  // Its byte: int8 in two's complement or uint8.
  uint8_t byte(float q) const {
    return is_unsigned ? static_cast<uint8_t>(q) : static_cast<uint8_t>(static_cast<int8_t>(q));
  }
};

// How X's time padding is filled in the quantized copy: the quantized zero (the zero point), or
// X mirrored (ONNX Pad mode reflect).
enum class Int8Padding { kZeros, kReflect };

// x [batch, channels, length] float (ncw) -> out [batch, pad_begin + length + pad_end, channels]
// bytes (nwc), the padding materialised. A negative pad_end leaves out X's last -pad_end steps.
void quantize_ncw_to_nwc(const float* x, int64_t batch, int64_t channels, int64_t length,
                         int64_t pad_begin, int64_t pad_end, Int8Padding padding,
                         const Quantizer& quant, uint8_t* out);

// Row-major x with n values -> out, element by element (a matmul's A is already [M, K]).
void quantize_dense(const float* x, int64_t n, const Quantizer& quant, uint8_t* out);

// x -> (quantize(x) - zero_point) * scale: what DequantizeLinear(QuantizeLinear(act(x))) gives,
// in place; all zeros when quant.scale is 0 (DynamicQuantizeLinear of zeros).
void fake_quantize(float* x, int64_t n, const Quantizer& quant);
// The same from x into out (n values each; out may be x), 8 lanes at a time: the float paths
// that stand in for the int8 kernels (no VNNI, conv_post) run it over a whole activation.
void fake_quantize(const float* x, float* out, int64_t n, const Quantizer& quant);

}  // namespace amphora
