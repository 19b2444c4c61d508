// Where the model file of a model argument is: the path itself, or inside a package directory.
#pragma once

#include <string>

namespace amphora {

// For a directory: the file its amphora.json names in "formats.onnx" (default model.onnx);
// fails with kIo naming the directory when that file does not exist. Otherwise: `path`.
std::string resolve_onnx_path(const std::string& path);

struct TorchScriptLocation {
  std::string file;      // the TorchScript archive
  std::string manifest;  // its package's amphora.json; empty when there is none
};

// For a directory: the file its amphora.json names in "formats.torchscript" (default
// model.ts), failing with kIo when it does not exist. For a file: the file itself, and the
// amphora.json beside it when there is one (a model.ts copied out of its package keeps working
// when the manifest travels with it).
TorchScriptLocation resolve_torchscript_path(const std::string& path);

}  // namespace amphora
