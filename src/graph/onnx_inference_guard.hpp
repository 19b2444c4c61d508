// A schema registry for ONNX shape inference that wraps the inference functions Debian's
// libonnx 1.12 gets wrong on malformed models with checks that fail cleanly instead of
// crashing. Found by tests/fuzz/fuzz_onnx_loader; add a guard here for each new finding.
#pragma once

#include <onnx/defs/schema.h>

namespace amphora {

// The default ONNX registry, with guarded inference for the ops listed in the .cpp.
const onnx::ISchemaRegistry* guarded_schema_registry();

}  // namespace amphora
