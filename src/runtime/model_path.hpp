// Where the ONNX file of a model argument is: the path itself, or inside a package directory.
#pragma once

#include <string>

namespace amphora {

// For a directory: the file its amphora.json names in "formats.onnx" (default model.onnx);
// fails with kIo naming the directory when that file does not exist. Otherwise: `path`.
std::string resolve_onnx_path(const std::string& path);

}  // namespace amphora
