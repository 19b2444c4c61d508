// The boundary between libamphora and its LibTorch plugin, libamphora_torchscript.so.
//
// Why a plugin: loading LibTorch costs about 150 MB of resident memory (its libraries'
// relocations and static data) whether or not a TorchScript model is ever opened, which was
// half of amphora's peak RSS on small vocoders. As a plugin it is loaded on the first
// `--backend torchscript` only. Both sides are built together by this project's CMake, so the
// interface is a C++ class; the plugin keeps its own copy of Tensor and Error (amphora::Error
// thrown by the plugin is caught by the same type on this side).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace amphora::torchscript {

inline constexpr const char* kPluginFile = "libamphora_torchscript.so";
inline constexpr int kPluginApiVersion = 1;

// What ScriptModule forwards to (script_module.hpp documents each call).
class ScriptModuleImpl {
 public:
  virtual ~ScriptModuleImpl() = default;
  virtual const std::string& path() const = 0;
  virtual const std::vector<std::string>& argument_names() const = 0;
  virtual int64_t first_conv_in_channels() const = 0;
  virtual std::vector<Tensor> forward(const std::vector<Tensor>& args) const = 0;
};

// Entry points the plugin exports with C linkage (looked up by these names).
using PluginApiVersionFn = int (*)();
using PluginLibtorchVersionFn = const char* (*)();
// Throws amphora::Error on failure, as ScriptModule's constructor documents.
using PluginOpenFn = ScriptModuleImpl* (*)(const std::string& path, int threads);

}  // namespace amphora::torchscript
