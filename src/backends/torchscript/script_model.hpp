// The TorchScript backend as Model sees it (runtime/backend.hpp): a ScriptModule plus the named,
// typed inputs and outputs that the package manifest (amphora.json) declares, so
// Model::run(named inputs) -> named outputs behaves as with the native engine.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amphora/amphora.hpp"
#include "backends/torchscript/script_module.hpp"
#include "runtime/backend.hpp"

namespace amphora::torchscript {

class ScriptModel : public BackendModel {
 public:
  // `path`: a package directory (its "formats.torchscript", default model.ts) or a .ts/.pt
  // file (with the amphora.json beside it when there is one). Without any manifest the model
  // must take one tensor: it is described as "mel" [batch, n_mels, frames] -> "audio", n_mels
  // read from its first convolution.
  ScriptModel(const std::string& path, const Options& options);

  const std::vector<TensorInfo>& inputs() const override { return inputs_; }
  const std::vector<TensorInfo>& outputs() const override { return outputs_; }
  // {"amphora": manifest JSON text} when there is a manifest; empty otherwise.
  const std::map<std::string, std::string>& metadata() const override { return metadata_; }

  // Validates the inputs against inputs() like the native Session (names, dtype, rank, fixed
  // dims, consistent symbolic dims), calls forward, names the results after outputs().
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs) const override;

 private:
  void describe_from_manifest(const std::string& manifest_path);
  void describe_bare();
  void check_inputs(const std::map<std::string, Tensor>& inputs) const;

  std::unique_ptr<ScriptModule> module_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::vector<size_t> argument_order_;  // forward's i-th argument is inputs_[argument_order_[i]]
  std::map<std::string, std::string> metadata_;
};

// Registers ScriptModel as Backend::kTorchScript (available when the LibTorch plugin is).
void register_torchscript_backend();

}  // namespace amphora::torchscript
