#include "pipeline/package.hpp"

#include <filesystem>
#include <fstream>

#include "core/error.hpp"
#include "runtime/model_path.hpp"

namespace amphora {

namespace {

nlohmann::json parse_manifest(const std::string& text, const std::string& source) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    fail(ErrorCode::kInvalidModel, "{}: the amphora manifest is not a JSON object", source);
  }
  return json;
}

int required_int(const nlohmann::json& manifest, const char* key, const std::string& source) {
  if (!manifest.contains(key) || !manifest[key].is_number_integer() || manifest[key].get<int>() <= 0) {
    fail(ErrorCode::kInvalidModel, "{}: manifest needs a positive integer \"{}\"", source, key);
  }
  return manifest[key].get<int>();
}

}  // namespace

std::optional<SpectralHead> spectral_head_from_json(const nlohmann::json& head,
                                                    const std::string& source) {
  std::string type = head.value("type", "waveform");
  if (type == "waveform") return std::nullopt;
  if (type != "istft") {
    fail(ErrorCode::kUnsupported, "{}: head type '{}' is not supported (waveform, istft)", source,
         type);
  }
  if (head.value("output", "real_imag") != "real_imag") {
    fail(ErrorCode::kUnsupported, "{}: istft head output '{}' is not supported (real_imag)",
         source, head.value("output", ""));
  }
  if (head.value("window", "hann") != "hann") {
    fail(ErrorCode::kUnsupported, "{}: istft window '{}' is not supported (hann)", source,
         head.value("window", ""));
  }
  SpectralHead out;
  out.stft.n_fft = required_int(head, "n_fft", source);
  out.stft.hop_length = required_int(head, "hop_length", source);
  out.stft.win_length = head.contains("win_length") ? required_int(head, "win_length", source)
                                                    : out.stft.n_fft;
  std::string padding = head.value("padding", "same");
  if (padding == "same") {
    out.stft.padding = audio::StftPadding::kSame;
  } else if (padding == "center") {
    out.stft.padding = audio::StftPadding::kCenter;
  } else {
    fail(ErrorCode::kUnsupported, "{}: istft padding '{}' is not supported (same, center)", source,
         padding);
  }
  return out;
}

VocoderPackage read_vocoder_package(const std::string& path,
                                    const std::map<std::string, std::string>& onnx_metadata) {
  VocoderPackage pkg;
  pkg.onnx_path = resolve_onnx_path(path);
  std::error_code ec;
  std::string source = pkg.onnx_path;
  if (std::filesystem::is_directory(path, ec)) {
    pkg.package_dir = path;
    auto manifest_path = std::filesystem::path(path) / "amphora.json";
    if (std::filesystem::exists(manifest_path)) {
      std::ifstream in(manifest_path);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      source = manifest_path.string();
      pkg.manifest = parse_manifest(text, source);
    }
  }
  if (!pkg.manifest) {
    auto it = onnx_metadata.find("amphora");
    if (it == onnx_metadata.end()) return pkg;  // bare ONNX
    source = pkg.onnx_path + " (metadata_props[\"amphora\"])";
    pkg.manifest = parse_manifest(it->second, source);
  }
  const nlohmann::json& m = *pkg.manifest;
  pkg.family = m.value("family", "unknown");
  pkg.sample_rate = required_int(m, "sample_rate", source);
  pkg.hop_length = required_int(m, "hop_length", source);
  pkg.n_mels = required_int(m, "n_mels", source);
  if (m.contains("mel")) pkg.mel = audio::mel_config_from_json(m["mel"], source);
  if (m.contains("head")) pkg.spectral_head = spectral_head_from_json(m["head"], source);
  if (m.contains("inputs") && m["inputs"].is_array()) {
    for (const auto& input : m["inputs"]) pkg.input_names.push_back(input.value("name", ""));
  }
  return pkg;
}

}  // namespace amphora
