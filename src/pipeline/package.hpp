// A vocoder package as the runtime sees it: where the ONNX file is and what the manifest
// (amphora.json, or metadata_props["amphora"] in the ONNX file) says about audio.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "audio/mel.hpp"
#include "audio/stft.hpp"

namespace amphora {

struct VocoderPackage {
  std::string onnx_path;
  std::string package_dir;                 // empty for a bare ONNX file
  std::optional<nlohmann::json> manifest;  // absent for a bare ONNX file
  std::string family;
  int sample_rate = 0;
  int hop_length = 0;
  int n_mels = 0;
  std::optional<audio::MelConfig> mel;             // absent for a bare ONNX file
  std::optional<audio::StftConfig> spectral_head;  // the ISTFT of spec_real/spec_imag, if any
  std::vector<std::string> input_names;            // mel [, f0, noise]
};

// Reads the manifest of a package directory or an amphora-exported .onnx. For a bare ONNX file
// returns a package with only onnx_path set (the caller measures the rest from the graph).
// `onnx_metadata` is the ONNX metadata_props of the model at onnx_path.
VocoderPackage read_vocoder_package(const std::string& path,
                                    const std::map<std::string, std::string>& onnx_metadata);

// The manifest part of the above: parses the text of an amphora.json (family, sample rate, hop,
// n_mels, mel, head, inputs) into a package without paths. Fails with kInvalidModel, or
// kUnsupported for settings amphora cannot run, naming `source`.
VocoderPackage vocoder_package_from_manifest(const std::string& text, const std::string& source);

}  // namespace amphora
