// A TorchScript archive loaded through LibTorch and called positionally. LibTorch lives in a
// plugin loaded on first use (plugin_api.hpp says why), so neither this header nor libamphora
// depends on it; when the plugin was not built (AMPHORA_WITH_TORCHSCRIPT off) or cannot be
// loaded, every constructor fails with kUnsupported and the reason.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace amphora::torchscript {

bool libtorch_available();       // the plugin was built and is in place (it is not loaded)
std::string libtorch_version();  // "1.13.1"; empty without LibTorch (loads the plugin)

class ScriptModule {
 public:
  // Fails with kIo when the file is missing and kInvalidModel when it is not a TorchScript
  // archive or LibTorch cannot read it (e.g. written by an incompatible PyTorch version); the
  // message names the file and keeps the first line of LibTorch's reason.
  // `threads` > 0 sets LibTorch's intra-op threads for each forward().
  ScriptModule(const std::string& path, int threads);
  ~ScriptModule();
  ScriptModule(const ScriptModule&) = delete;
  ScriptModule& operator=(const ScriptModule&) = delete;

  const std::string& path() const;
  // The names of forward()'s arguments after self, as traced ("mel", "f0", ...).
  const std::vector<std::string>& argument_names() const;
  // Input channels of the first convolution whose weight is a constant (frozen modules), the
  // n_mels of a mel vocoder; -1 when there is none.
  int64_t first_conv_in_channels() const;

  // Calls forward(args...) under InferenceMode; a tuple or list result is flattened into its
  // tensors. Errors LibTorch raises (shape mismatch, ...) become kInvalidArgument naming the
  // file. Thread-safe: calls are serialised.
  std::vector<Tensor> forward(const std::vector<Tensor>& args) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace amphora::torchscript
