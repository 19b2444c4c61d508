#include "pipeline/package.hpp"

#include <filesystem>
#include <fstream>

#include "audio/istft_head.hpp"
#include "core/error.hpp"
#include "core/json_fields.hpp"
#include "runtime/model_path.hpp"

namespace amphora {

VocoderPackage vocoder_package_from_manifest(const std::string& text, const std::string& source) {
  VocoderPackage pkg;
  pkg.manifest = parse_manifest(text, source);
  const nlohmann::json& m = *pkg.manifest;
  pkg.family = optional_string(m, "family", "unknown", source);
  const std::string kind = optional_string(m, "kind", "vocoder", source);
  if (kind != "vocoder") {
    const bool svc = optional_string(m, "task", "tts", source) == "svc";
    fail(ErrorCode::kInvalidArgument, "{}: an {} model package ({}), not a vocoder: {}", source,
         kind, pkg.family,
         svc ? "convert content features with `amphora svc`"
             : "speak its phone ids with `amphora synth`");
  }
  pkg.sample_rate = positive_int(m, "sample_rate", source);
  pkg.hop_length = positive_int(m, "hop_length", source);
  pkg.n_mels = positive_int(m, "n_mels", source);
  if (m.contains("mel")) pkg.mel = audio::mel_config_from_json(m["mel"], source);
  if (m.contains("head")) pkg.spectral_head = audio::istft_head_from_json(m["head"], source);
  if (m.contains("inputs") && m["inputs"].is_array()) {
    for (const auto& input : m["inputs"]) {
      if (!input.is_object()) {
        fail(ErrorCode::kInvalidModel, "{}: each of \"inputs\" must be an object, got {}", source,
             input.dump());
      }
      pkg.input_names.push_back(optional_string(input, "name", "", source + " inputs"));
    }
  }
  return pkg;
}

VocoderPackage read_vocoder_package(const std::string& path,
                                    const std::map<std::string, std::string>& onnx_metadata) {
  std::string onnx_path;
  std::error_code ec;
  try {
    onnx_path = resolve_onnx_path(path);
  } catch (const Error&) {
    // A package exported with TorchScript only has no ONNX file; the path then names the
    // package in messages, and the ONNX-only features (streaming) say they need one.
    if (!std::filesystem::is_directory(path, ec)) throw;
    onnx_path = path;
  }
  const bool is_package_dir = std::filesystem::is_directory(path, ec);
  VocoderPackage pkg;
  const auto manifest_path = std::filesystem::path(path) / "amphora.json";
  if (is_package_dir && std::filesystem::exists(manifest_path)) {
    std::ifstream in(manifest_path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    pkg = vocoder_package_from_manifest(text, manifest_path.string());
  } else if (auto it = onnx_metadata.find("amphora"); it != onnx_metadata.end()) {
    pkg = vocoder_package_from_manifest(it->second, onnx_path + " (metadata_props[\"amphora\"])");
  }
  // Neither: a bare ONNX file, described from its graph by the caller.
  pkg.onnx_path = onnx_path;
  if (is_package_dir) pkg.package_dir = path;
  return pkg;
}

}  // namespace amphora
