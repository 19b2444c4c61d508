// oneDNN descriptors of a conv problem shared by the float (conv_onednn.cpp) and int8
// (int8/int8_conv_onednn.cpp) kernels. Includes oneDNN: for *_onednn.cpp files only.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/conv/conv_attrs.hpp"
#include "ops/conv/conv_post_ops.hpp"

namespace amphora {

// Weights as oneDNN sees them: [G, OC/G, IC/G, k...] when grouped, [OC, IC, k...] otherwise,
// described over ONNX's buffer (elements of `type`) with explicit strides.
dnnl::memory::desc weights_desc_over_onnx(const ConvGeometry& g, dnnl::memory::data_type type);

// A 1-D depthwise conv as 2-D with a height of 1 (oneDNN's jit depthwise kernels are 2-D only);
// other problems unchanged. Only descriptors change: the buffers are identical.
ConvGeometry lift_depthwise_1d(const ConvGeometry& g);

// The activation (eltwise) and residual (sum) post-ops of a fused conv, in that order, after
// `first`; the input activation and reflect padding are not post-ops (they are applied while
// packing X).
dnnl::primitive_attr conv_post_ops_attr(const ConvPostOps& post,
                                        const dnnl::post_ops& first = dnnl::post_ops());

}  // namespace amphora
