// The public API (include/amphora/amphora.hpp) on top of graph/onnx_import and Session, or of
// the backend Options::backend asks for (runtime/backend.hpp; TorchScript: src/backends/).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "amphora/amphora.hpp"
#include "graph/onnx_import.hpp"
#include "runtime/backend.hpp"
#include "runtime/model_path.hpp"
#include "runtime/session.hpp"

namespace amphora {

// Exactly one of `session` (native) and `backend_model` (a registered backend) is set.
struct Model::Impl {
  Impl(Graph graph, const Options& options);
  Impl(const std::string& path, const Options& options);
  Backend backend = Backend::kNative;
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::unique_ptr<Session> session;
  std::unique_ptr<BackendModel> backend_model;
};

namespace {

TensorInfo describe(const ValueInfo& value) {
  TensorInfo info;
  info.name = value.name;
  info.dtype = value.dtype;
  info.rank_known = value.rank_known;
  for (const Dim& d : value.dims) info.dims.push_back(DimInfo{d.value, d.symbol});
  return info;
}

}  // namespace

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::kNative:
      return "native";
    case Backend::kTorchScript:
      return "torchscript";
  }
  return "?";
}

Backend parse_backend(const std::string& name) {
  for (Backend backend : {Backend::kNative, Backend::kTorchScript}) {
    if (name == backend_name(backend)) return backend;
  }
  fail(ErrorCode::kInvalidArgument, "unknown backend '{}'; expected native or torchscript", name);
}

bool backend_available(Backend backend) {
  if (backend == Backend::kNative) return true;
  const BackendFactory* factory = find_backend(backend);
  return factory && factory->available();
}

std::string TensorInfo::to_string() const {
  std::string s = fmt::format("{}: {} [", name, dtype_name(dtype));
  if (!rank_known) return s + "?]";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    const DimInfo& d = dims[i];
    s += d.size >= 0 ? std::to_string(d.size) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return s + "]";
}

Model::Impl::Impl(Graph graph, const Options& options) {
  for (const auto& v : graph.inputs) inputs.push_back(describe(v));
  for (const auto& v : graph.outputs) outputs.push_back(describe(v));
  session = std::make_unique<Session>(
      std::move(graph),
      SessionOptions{options.threads, options.reference_kernels, options.profile});
}

Model::Impl::Impl(const std::string& path, const Options& options) : backend(options.backend) {
  const BackendFactory* factory = find_backend(backend);
  if (!factory) {
    fail(ErrorCode::kUnsupported, "{}: the {} backend is not part of this build", path,
         backend_name(backend));
  }
  backend_model = factory->open(path, options);
  inputs = backend_model->inputs();
  outputs = backend_model->outputs();
}

Model Model::load(const std::string& path, const Options& options) {
  if (options.backend != Backend::kNative) {
    return Model(std::make_shared<Impl>(path, options));
  }
  Graph graph = load_onnx(resolve_onnx_path(path));
  return Model(std::make_shared<Impl>(std::move(graph), options));
}

Model Model::load_from_bytes(const std::string& bytes, const Options& options,
                             const std::string& source) {
  if (options.backend != Backend::kNative) {
    fail(ErrorCode::kUnsupported, "{}: loading from bytes reads ONNX (native backend) only",
         source);
  }
  Graph graph = load_onnx_from_bytes(bytes, source);
  return Model(std::make_shared<Impl>(std::move(graph), options));
}

const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }
const std::map<std::string, std::string>& Model::metadata() const {
  return impl_->backend_model ? impl_->backend_model->metadata() : impl_->session->graph().metadata;
}
int64_t Model::opset() const { return impl_->backend_model ? 0 : impl_->session->graph().opset(); }
Backend Model::backend() const { return impl_->backend; }

std::map<std::string, Tensor> Model::run(
    const std::map<std::string, Tensor>& inputs,
    const std::function<void(size_t done, size_t total)>& progress) const {
  if (impl_->backend_model) {
    // One opaque call (TorchScript's forward()): progress can only say "done".
    auto outputs = impl_->backend_model->run(inputs);
    if (progress) progress(1, 1);
    return outputs;
  }
  return impl_->session->run(inputs, progress);
}

std::vector<NodeTiming> Model::last_profile() const {
  std::vector<NodeTiming> timings;
  if (!impl_->session) return timings;  // other backends run as one opaque call
  for (NodeProfile& node : impl_->session->last_profile()) {
    timings.push_back({std::move(node.name), std::move(node.op_type), std::move(node.domain),
                       std::move(node.input_shapes), std::move(node.output_shapes), node.ms,
                       node.flops});
  }
  return timings;
}

}  // namespace amphora
