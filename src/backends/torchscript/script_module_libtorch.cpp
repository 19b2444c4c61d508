// The LibTorch plugin (libamphora_torchscript.so, plugin_api.hpp): load, tensor conversion,
// forward. The only file that includes LibTorch's headers or links LibTorch.
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>
#include <torch/version.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "backends/torchscript/plugin_api.hpp"

namespace amphora::torchscript {

namespace {

// c10::Error messages carry a C++ backtrace and, for TorchScript errors, the serialized code
// around the fault: dozens of lines. The reason is in the first line or two.
std::string first_lines(const std::string& message, int lines = 2) {
  std::string out;
  size_t start = 0;
  for (int i = 0; i < lines && start < message.size(); ++i) {
    size_t end = message.find('\n', start);
    std::string line = message.substr(start, end == std::string::npos ? end : end - start);
    if (line.find_first_not_of(" \t") == std::string::npos) break;
    if (!out.empty()) out += " ";
    out += line;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

std::string reason(const c10::Error& e) { return first_lines(e.what_without_backtrace()); }

at::ScalarType scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return at::kFloat;
    case DType::kFloat64:
      return at::kDouble;
    case DType::kInt64:
      return at::kLong;
    case DType::kInt32:
      return at::kInt;
    case DType::kInt8:
      return at::kChar;
    case DType::kUint8:
      return at::kByte;
    case DType::kBool:
      return at::kBool;
  }
  return at::kFloat;
}

DType amphora_dtype(at::ScalarType type, const std::string& path) {
  switch (type) {
    case at::kFloat:
      return DType::kFloat32;
    case at::kDouble:
      return DType::kFloat64;
    case at::kLong:
      return DType::kInt64;
    case at::kInt:
      return DType::kInt32;
    case at::kChar:
      return DType::kInt8;
    case at::kByte:
      return DType::kUint8;
    case at::kBool:
      return DType::kBool;
    default:
      fail(ErrorCode::kUnsupported, "{}: forward returned a {} tensor, which amphora cannot hold",
           path, c10::toString(type));
  }
}

// Copies: the caller's buffer must stay untouched even if the model writes into an input.
at::Tensor to_torch(const Tensor& tensor) {
  std::vector<int64_t> sizes(tensor.shape().begin(), tensor.shape().end());
  at::Tensor out = at::empty(sizes, at::TensorOptions().dtype(scalar_type(tensor.dtype())));
  if (tensor.nbytes() > 0) std::memcpy(out.data_ptr(), tensor.raw(), tensor.nbytes());
  return out;
}

Tensor from_torch(const at::Tensor& value, const std::string& path) {
  at::Tensor contiguous = value.to(at::kCPU).contiguous();
  DType dtype = amphora_dtype(contiguous.scalar_type(), path);
  Shape shape(contiguous.sizes().begin(), contiguous.sizes().end());
  Tensor out(dtype, shape);
  if (out.nbytes() > 0) std::memcpy(out.raw(), contiguous.data_ptr(), out.nbytes());
  return out;
}

void flatten(const c10::IValue& value, const std::string& path, std::vector<Tensor>& out) {
  if (value.isTensor()) {
    out.push_back(from_torch(value.toTensor(), path));
  } else if (value.isTuple()) {
    for (const auto& element : value.toTupleRef().elements()) flatten(element, path, out);
  } else if (value.isList()) {
    for (const c10::IValue& element : value.toListRef()) flatten(element, path, out);
  } else {
    fail(ErrorCode::kUnsupported, "{}: forward returned a {}, expected tensors", path,
         value.tagKind());
  }
}

// LibTorch 1.13 runs ConvTranspose as a BLAS gemm, and at::set_num_threads does not reach
// OpenBLAS's own pthread pool (it starts one thread per core): without this, --threads 1 would
// still use every core inside OpenBLAS. Looked up at run time: the BLAS may be another one.
void set_blas_threads(int threads) {
  using SetThreads = void (*)(int);
  // This plugin and LibTorch's libraries are loaded RTLD_LOCAL, so look in libblas itself.
  static const auto set = [] {
    void* blas = dlopen("libblas.so.3", RTLD_NOW | RTLD_NOLOAD);
    return reinterpret_cast<SetThreads>(
        dlsym(blas ? blas : RTLD_DEFAULT, "openblas_set_num_threads"));
  }();
  static std::atomic<int> current{0};  // OpenBLAS's setting is process-wide
  if (set && current.exchange(threads) != threads) set(threads);
}

// Says which of the usual causes it is before LibTorch's own words.
[[noreturn]] void fail_to_load(const std::string& path, std::string why) {
  if (why.rfind("[enforce fail", 0) == 0) {  // "[enforce fail at inline_container.cc:165] . "
    size_t end = why.find("] ");
    if (end != std::string::npos) why = why.substr(why.find_first_not_of(" .", end + 1));
  }
  std::string what = "cannot be loaded by LibTorch";
  if (why.find("zip archive") != std::string::npos) {
    what = "is not a TorchScript archive (the zip file torch.jit.save writes)";
    if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".onnx") == 0) {
      what += "; for an ONNX file use --backend native";
    }
  } else if (why.find("version") != std::string::npos) {
    what = "was written by a PyTorch version this LibTorch cannot read";
  }
  fail(ErrorCode::kInvalidModel, "{}: {} (LibTorch {}: {})", path, what, TORCH_VERSION, why);
}

class LibtorchModule final : public ScriptModuleImpl {
 public:
  LibtorchModule(const std::string& path, int threads);
  const std::string& path() const override { return path_; }
  const std::vector<std::string>& argument_names() const override { return argument_names_; }
  int64_t first_conv_in_channels() const override;
  std::vector<Tensor> forward(const std::vector<Tensor>& args) const override;

 private:
  // forward() is const for callers, but a jit::Module call is not.
  mutable torch::jit::Module module_;
  std::string path_;
  std::vector<std::string> argument_names_;
  int threads_ = 0;
  mutable std::mutex mutex_;
};

LibtorchModule::LibtorchModule(const std::string& path, int threads)
    : path_(path), threads_(threads) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail(ErrorCode::kIo, "{}: no such TorchScript file", path);
  }
  try {
    module_ = torch::jit::load(path, torch::kCPU);
    module_.eval();
  } catch (const c10::Error& e) {
    fail_to_load(path, reason(e));
  } catch (const std::exception& e) {
    fail_to_load(path, first_lines(e.what()));
  }
  auto forward = module_.find_method("forward");
  if (!forward) fail(ErrorCode::kInvalidModel, "{}: the TorchScript module has no forward()", path);
  const auto& arguments = forward->function().getSchema().arguments();
  for (size_t i = 1; i < arguments.size(); ++i) {  // 0 is self
    argument_names_.push_back(arguments[i].name());
  }
}

int64_t LibtorchModule::first_conv_in_channels() const {
  auto graph = module_.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);  // an unfrozen module calls its submodules' forward()
  for (const torch::jit::Node* node : graph->nodes()) {
    const auto kind = node->kind();
    if (kind != c10::Symbol::aten("_convolution") && kind != c10::Symbol::aten("conv1d")) continue;
    auto weight = torch::jit::toIValue(node->input(1));
    if (!weight || !weight->isTensor() || weight->toTensor().dim() != 3) return -1;
    return weight->toTensor().size(1);
  }
  return -1;
}

std::vector<Tensor> LibtorchModule::forward(const std::vector<Tensor>& args) const {
  std::lock_guard<std::mutex> lock(mutex_);
  // OpenMP thread counts are per calling thread, so set them where forward runs.
  if (threads_ > 0) {
    if (at::get_num_threads() != threads_) at::set_num_threads(threads_);
    set_blas_threads(threads_);
  }
  c10::InferenceMode inference;
  std::vector<c10::IValue> inputs;
  inputs.reserve(args.size());
  for (const Tensor& arg : args) inputs.emplace_back(to_torch(arg));
  c10::IValue result;
  try {
    result = module_.forward(std::move(inputs));
  } catch (const c10::Error& e) {
    fail(ErrorCode::kInvalidArgument, "{}: forward() failed: {}", path_, reason(e));
  } catch (const std::exception& e) {
    fail(ErrorCode::kInvalidArgument, "{}: forward() failed: {}", path_, first_lines(e.what()));
  }
  std::vector<Tensor> outputs;
  flatten(result, path_, outputs);
  return outputs;
}

}  // namespace

}  // namespace amphora::torchscript

// The plugin's entry points (plugin_api.hpp); everything else in it is hidden.
extern "C" {
__attribute__((visibility("default"))) int amphora_torchscript_api_version() {
  return amphora::torchscript::kPluginApiVersion;
}
__attribute__((visibility("default"))) const char* amphora_torchscript_libtorch_version() {
  return TORCH_VERSION;
}
__attribute__((visibility("default"))) amphora::torchscript::ScriptModuleImpl*
amphora_torchscript_open(const std::string& path, int threads) {
  return new amphora::torchscript::LibtorchModule(path, threads);
}
}
