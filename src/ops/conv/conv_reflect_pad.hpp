// Reflect padding (FusedConv pad_mode "reflect", a Pad node fused in by passes/fuse_pad.cpp) for
// the conv paths that cannot mirror X while packing it: only the tiled path does
// (conv_tiled.hpp, TimePadding::kReflect); narrow_conv, the other oneDNN layouts and the
// reference kernels run the same conv unpadded over a reflect-padded copy of X.
#pragma once

#include "core/tensor.hpp"
#include "ops/conv/conv_attrs.hpp"

namespace amphora {

// A 1-D conv with reflect padding (pads smaller than T) as the same conv unpadded over a
// reflect-padded copy of X [N, C, T].
struct ReflectPadded {
  ConvGeometry geometry;
  Tensor x;
};
ReflectPadded reflect_padded(const ConvGeometry& g, const Tensor& x);

}  // namespace amphora
