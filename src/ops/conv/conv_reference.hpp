// Plain loop implementations of Conv and ConvTranspose: the definition the fast paths are
// tested against. Layouts are ONNX's: x [N, C, spatial...], Conv weights [M, C/group, k...],
// ConvTranspose weights [C, M/group, k...], bias [M] (nullptr when absent), y [N, M, out...].
#pragma once

#include "ops/conv/conv_attrs.hpp"

namespace amphora {

void conv_reference(const ConvGeometry& g, const float* x, const float* w, const float* bias,
                    float* y);
void conv_transpose_reference(const ConvGeometry& g, const float* x, const float* w,
                              const float* bias, float* y);

}  // namespace amphora
