#include "runtime/model_path.hpp"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace amphora {

namespace {

// A package directory names its ONNX file in amphora.json; older/hand-made ones just have
// model.onnx.
std::string onnx_path_in_package(const std::string& dir) {
  std::filesystem::path root(dir);
  std::filesystem::path manifest = root / "amphora.json";
  std::string file = "model.onnx";
  if (std::filesystem::exists(manifest)) {
    std::ifstream in(manifest);
    auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      fail(ErrorCode::kInvalidModel, "{}: not valid JSON", manifest.string());
    }
    if (json.contains("formats") && json["formats"].is_object() &&
        json["formats"].contains("onnx") && json["formats"]["onnx"].is_string()) {
      file = json["formats"]["onnx"].get<std::string>();
    }
  }
  std::filesystem::path model = root / file;
  if (!std::filesystem::exists(model)) {
    fail(ErrorCode::kIo, "{}: package directory has no ONNX model ({} not found)", dir,
         model.string());
  }
  return model.string();
}

}  // namespace

std::string resolve_onnx_path(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_directory(path, ec) ? onnx_path_in_package(path) : path;
}

}  // namespace amphora
