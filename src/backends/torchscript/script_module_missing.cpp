// The TorchScript backend of a libamphora built without LibTorch (AMPHORA_WITH_TORCHSCRIPT
// off): loading fails with a clear reason instead of the backend silently disappearing.
#include "backends/torchscript/script_module.hpp"

namespace amphora::torchscript {

struct ScriptModule::State {};

bool libtorch_available() { return false; }
std::string libtorch_version() { return ""; }

ScriptModule::ScriptModule(const std::string& path, int /*threads*/) {
  fail(ErrorCode::kUnsupported,
       "{}: the TorchScript backend is not available: amphora was built without LibTorch "
       "(install libtorch-dev and reconfigure with -DAMPHORA_WITH_TORCHSCRIPT=ON)",
       path);
}

ScriptModule::~ScriptModule() = default;

const std::string& ScriptModule::path() const {
  fail(ErrorCode::kInternal, "ScriptModule::path() without LibTorch");
}
const std::vector<std::string>& ScriptModule::argument_names() const {
  fail(ErrorCode::kInternal, "ScriptModule::argument_names() without LibTorch");
}
int64_t ScriptModule::first_conv_in_channels() const { return -1; }
std::vector<Tensor> ScriptModule::forward(const std::vector<Tensor>& /*args*/) const {
  fail(ErrorCode::kInternal, "ScriptModule::forward() without LibTorch");
}

}  // namespace amphora::torchscript
