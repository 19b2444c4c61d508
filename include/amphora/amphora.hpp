// amphora public C++ API: load an ONNX model (or a model package directory), describe its
// inputs and outputs, run it on named tensors.
//
//   amphora::Model model = amphora::Model::load("pkg/", {.threads = 4});
//   for (const auto& in : model.inputs()) std::cout << in.to_string() << "\n";
//   // mel: float32 [batch, 80, frames]
//   auto outputs = model.run({{"mel", mel}});  // {"audio": Tensor}
//
// Errors are thrown as amphora::Error (amphora/error.hpp) with a code and a message that names
// the file, node, op or input at fault.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amphora/tensor.hpp"

namespace amphora {

// Which engine runs a model. kNative: amphora's own engine on the package's ONNX file.
// kTorchScript: the package's model.ts (or a bare .ts/.pt file) through LibTorch, available
// only when libamphora was built with it (AMPHORA_WITH_TORCHSCRIPT).
enum class Backend { kNative, kTorchScript };

const char* backend_name(Backend backend);       // "native", "torchscript"
Backend parse_backend(const std::string& name);  // kInvalidArgument for an unknown name
bool backend_available(Backend backend);         // false: this build lacks it (no LibTorch)

struct Options {
  int threads = 0;                 // intra-op threads; 0: library default (all cores)
  bool reference_kernels = false;  // plain reference kernels only (native backend)
  Backend backend = Backend::kNative;
  bool profile = false;  // native backend: time every node of each run (Model::last_profile)
};

// One graph node of the last profiled run (Options::profile).
struct NodeTiming {
  std::string name;  // node name, or "#index"
  std::string op_type;
  std::string domain;  // "" for ai.onnx; "com.amphora" for nodes fused by amphora's passes
  std::vector<std::vector<int64_t>> input_shapes, output_shapes;
  double ms = 0;
  double flops = 0;  // for Conv/ConvTranspose/MatMul/Gemm (and fused forms); 0 otherwise
};

// One dimension of a declared input/output: a fixed size, or a symbol ("frames") whose size
// is given by the tensors passed to run(). Both unset: unknown.
struct DimInfo {
  int64_t size = -1;  // >= 0 when fixed
  std::string symbol;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<DimInfo> dims;
  bool rank_known = true;
  std::string to_string() const;  // "mel: float32 [batch, 80, frames]"
};

// A loaded model. Cheap to copy: copies share the loaded graph, kernels and plan cache.
class Model {
 public:
  // Native backend: loads an .onnx file, or a package directory (its amphora.json
  // "formats.onnx", default model.onnx). Creates every kernel now: an unsupported op fails
  // here, not in run().
  // TorchScript backend: loads a package's "formats.torchscript" (default model.ts) or a bare
  // .ts/.pt file; inputs/outputs come from the package's amphora.json (for a bare file, the
  // amphora.json beside it, else one input "mel" [batch, n_mels, frames] -> "audio").
  static Model load(const std::string& path, const Options& options = {});
  // From serialized ONNX bytes; `source` names them in error messages.
  static Model load_from_bytes(const std::string& bytes, const Options& options = {},
                               const std::string& source = "<memory>");

  const std::vector<TensorInfo>& inputs() const;
  const std::vector<TensorInfo>& outputs() const;
  // ONNX metadata_props; "amphora" holds the package manifest JSON when exported by amphora
  // (TorchScript backend: the manifest's text, when there is one).
  const std::map<std::string, std::string>& metadata() const;
  int64_t opset() const;  // default-domain (ai.onnx) opset; 0 for a TorchScript model
  Backend backend() const;

  // Runs the model. `inputs` names every model input; returns every output by name.
  // Safe to call from several threads (calls are serialised per Model).
  // `progress`, when given, is called after each graph node with (nodes done, nodes total).
  std::map<std::string, Tensor> run(
      const std::map<std::string, Tensor>& inputs,
      const std::function<void(size_t done, size_t total)>& progress = {}) const;
  // Per-node timings of the last run, in execution order; empty unless Options::profile.
  std::vector<NodeTiming> last_profile() const;

 private:
  struct Impl;
  explicit Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace amphora
