// The quantization family: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear, the
// standard ONNX ops of a quantized (QDQ) model, as reference kernels. They let amphora run any
// QDQ file exactly as the ONNX spec defines it, and are the reference the int8 paths are tested
// against.
#pragma once

#include "ops/kernel.hpp"

namespace amphora {

void register_quantize_stream_rules(OpRegistry& registry);  // quantize_stream.cpp

}  // namespace amphora
