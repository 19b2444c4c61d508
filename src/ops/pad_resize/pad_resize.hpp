// Resize's (and Upsample's) kernel factory (resize.cpp), registered next to Pad in
// pad_resize.cpp.
#pragma once

#include <memory>

#include "ops/kernel.hpp"

namespace amphora {

std::unique_ptr<Kernel> make_resize(const Node& node, int64_t opset, const KernelOptions& options);

void register_pad_resize_stream_rules(OpRegistry& registry);  // pad_resize_stream.cpp

}  // namespace amphora
