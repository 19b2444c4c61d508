// libFuzzer target for the package manifest (amphora.json, also the ONNX metadata_props copy):
// any byte string must give a package whose settings the runtime can use as they are, or fail
// with amphora::Error -- never crash or let another exception (nlohmann::json's) through.
#include <cstddef>
#include <cstdint>
#include <string>

#include "audio/stft.hpp"
#include "core/error.hpp"
#include "pipeline/package.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  amphora::VocoderPackage pkg;
  try {
    pkg = amphora::vocoder_package_from_manifest(text, "amphora.json");
  } catch (const amphora::Error&) {
    return 0;
  }
  // What was accepted must hold up where it is used: a throw from here on escapes as a crash.
  if (pkg.sample_rate <= 0 || pkg.hop_length <= 0 || pkg.n_mels <= 0) __builtin_trap();
  if (pkg.mel) pkg.mel->validate();
  if (pkg.spectral_head) {
    amphora::audio::Stft check(*pkg.spectral_head);
  }
  return 0;
}
