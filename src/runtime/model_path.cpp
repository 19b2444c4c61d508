#include "runtime/model_path.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace amphora {

namespace {

// The file a package's amphora.json names for `format` ("onnx", "torchscript"), or `fallback`
// for older/hand-made packages without a "formats" entry.
std::string format_file(const std::filesystem::path& manifest, const char* format,
                        const char* fallback) {
  if (!std::filesystem::exists(manifest)) return fallback;
  std::ifstream in(manifest);
  auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) fail(ErrorCode::kInvalidModel, "{}: not valid JSON", manifest.string());
  if (json.contains("formats") && json["formats"].is_object() && json["formats"].contains(format) &&
      json["formats"][format].is_string()) {
    return json["formats"][format].get<std::string>();
  }
  return fallback;
}

bool is_directory(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec);
}

}  // namespace

std::string resolve_onnx_path(const std::string& path) {
  if (!is_directory(path)) return path;
  std::filesystem::path root(path);
  std::filesystem::path model = root / format_file(root / "amphora.json", "onnx", "model.onnx");
  if (!std::filesystem::exists(model)) {
    fail(ErrorCode::kIo, "{}: package directory has no ONNX model ({} not found)", path,
         model.string());
  }
  return model.string();
}

TorchScriptLocation resolve_torchscript_path(const std::string& path) {
  std::error_code ec;
  if (!is_directory(path)) {
    const auto beside = std::filesystem::path(path).parent_path() / "amphora.json";
    return {path, std::filesystem::is_regular_file(beside, ec) ? beside.string() : ""};
  }
  std::filesystem::path root(path);
  std::filesystem::path manifest = root / "amphora.json";
  std::filesystem::path model = root / format_file(manifest, "torchscript", "model.ts");
  if (!std::filesystem::exists(model)) {
    fail(ErrorCode::kIo,
         "{}: package directory has no TorchScript model ({} not found; export it with "
         "--formats ...,torchscript)",
         path, model.string());
  }
  return {model.string(), std::filesystem::exists(manifest) ? manifest.string() : ""};
}

}  // namespace amphora
