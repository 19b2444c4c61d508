// libFuzzer target for the .npy reader: any byte string must either parse into a tensor whose
// size matches its shape, or fail with amphora::Error -- never crash, hang or over-allocate.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    amphora::Tensor t = amphora::parse_npy(bytes, "fuzz.npy");
    // What was read must round-trip through the writer.
    amphora::Tensor back = amphora::parse_npy(amphora::encode_npy(t), "roundtrip.npy");
    if (back.shape() != t.shape() || back.nbytes() != t.nbytes()) __builtin_trap();
  } catch (const amphora::Error&) {
  }
  return 0;
}
