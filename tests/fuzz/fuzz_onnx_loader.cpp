// libFuzzer target for the ONNX loader (protobuf parse, onnx::checker, shape inference, IR
// conversion) and session creation (every kernel's attribute validation): any byte string must
// load or fail with amphora::Error -- never crash, hang or allocate more than its data implies.
// Models are not run: a valid model may legitimately ask for huge tensors (ConstantOfShape),
// which would drown real findings in out-of-memory reports.
#include <cstddef>
#include <cstdint>
#include <string>

#include "graph/onnx_import.hpp"
#include "runtime/session.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    amphora::Session session(amphora::load_onnx_from_bytes(bytes, "fuzz.onnx"));
  } catch (const amphora::Error&) {
  }
  return 0;
}
