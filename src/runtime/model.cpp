// The public API (include/amphora/amphora.hpp) on top of graph/onnx_import and Session.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "amphora/amphora.hpp"
#include "graph/onnx_import.hpp"
#include "runtime/model_path.hpp"
#include "runtime/session.hpp"

namespace amphora {

struct Model::Impl {
  Impl(Graph graph, const Options& options);
  std::vector<TensorInfo> inputs;
  std::vector<TensorInfo> outputs;
  std::unique_ptr<Session> session;
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
  session = std::make_unique<Session>(std::move(graph),
                                      SessionOptions{options.threads, options.reference_kernels});
}

Model Model::load(const std::string& path, const Options& options) {
  Graph graph = load_onnx(resolve_onnx_path(path));
  return Model(std::make_shared<Impl>(std::move(graph), options));
}

Model Model::load_from_bytes(const std::string& bytes, const Options& options,
                             const std::string& source) {
  Graph graph = load_onnx_from_bytes(bytes, source);
  return Model(std::make_shared<Impl>(std::move(graph), options));
}

const std::vector<TensorInfo>& Model::inputs() const { return impl_->inputs; }
const std::vector<TensorInfo>& Model::outputs() const { return impl_->outputs; }
const std::map<std::string, std::string>& Model::metadata() const {
  return impl_->session->graph().metadata;
}
int64_t Model::opset() const { return impl_->session->graph().opset(); }

std::map<std::string, Tensor> Model::run(
    const std::map<std::string, Tensor>& inputs,
    const std::function<void(size_t done, size_t total)>& progress) const {
  return impl_->session->run(inputs, progress);
}

}  // namespace amphora
