#include "backends/torchscript/script_model.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "runtime/model_path.hpp"

namespace amphora::torchscript {

namespace {

DType dtype_from_manifest(const std::string& name, const std::string& where) {
  for (DType dtype : {DType::kFloat32, DType::kFloat64, DType::kInt64, DType::kInt32, DType::kInt8,
                      DType::kUint8, DType::kBool}) {
    if (name == dtype_name(dtype)) return dtype;
  }
  fail(ErrorCode::kInvalidModel, "{}: unknown dtype '{}'", where, name);
}

// One manifest "inputs"/"outputs" entry: {"name": "mel", "dtype": "float32",
// "dims": ["batch", 80, "frames"]}.
TensorInfo tensor_info(const nlohmann::json& entry, const std::string& where) {
  if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
    fail(ErrorCode::kInvalidModel, "{}: entry without a \"name\": {}", where, entry.dump());
  }
  TensorInfo info;
  info.name = entry["name"].get<std::string>();
  const std::string at = fmt::format("{} '{}'", where, info.name);
  info.dtype = dtype_from_manifest(entry.value("dtype", "float32"), at);
  if (!entry.contains("dims") || !entry["dims"].is_array()) {
    info.rank_known = false;
    return info;
  }
  for (const auto& dim : entry["dims"]) {
    if (dim.is_number_integer()) {
      info.dims.push_back(DimInfo{dim.get<int64_t>(), ""});
    } else if (dim.is_string()) {
      info.dims.push_back(DimInfo{-1, dim.get<std::string>()});
    } else {
      info.dims.push_back(DimInfo{});
    }
  }
  return info;
}

std::string names_of(const std::vector<TensorInfo>& infos) {
  std::string out;
  for (const TensorInfo& info : infos) out += (out.empty() ? "" : ", ") + info.to_string();
  return out;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

ScriptModel::ScriptModel(const std::string& path, const Options& options) {
  const TorchScriptLocation location = resolve_torchscript_path(path);
  module_ = std::make_unique<ScriptModule>(location.file, options.threads);
  if (location.manifest.empty()) {
    describe_bare();
  } else {
    describe_from_manifest(location.manifest);
  }
}

void ScriptModel::describe_from_manifest(const std::string& manifest_path) {
  std::ifstream in(manifest_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto manifest = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    fail(ErrorCode::kInvalidModel, "{}: not a JSON object", manifest_path);
  }
  for (const char* key : {"inputs", "outputs"}) {
    if (!manifest.contains(key) || !manifest[key].is_array() || manifest[key].empty()) {
      fail(ErrorCode::kInvalidModel, "{}: needs a non-empty \"{}\" list for the TorchScript model",
           manifest_path, key);
    }
    auto& infos = std::string(key) == "inputs" ? inputs_ : outputs_;
    for (const auto& entry : manifest[key]) {
      infos.push_back(tensor_info(entry, fmt::format("{} {}", manifest_path, key)));
    }
  }
  metadata_["amphora"] = text;

  // forward() takes positional tensors; match them to the declared inputs by name when the
  // trace kept the names, else by position.
  const std::vector<std::string>& arguments = module_->argument_names();
  if (arguments.size() != inputs_.size()) {
    fail(ErrorCode::kInvalidModel,
         "{}: forward() takes {} tensors ({}) but {} declares {} inputs ({})", module_->path(),
         arguments.size(), joined(arguments), manifest_path, inputs_.size(), names_of(inputs_));
  }
  std::map<std::string, size_t> index_of;
  for (size_t i = 0; i < inputs_.size(); ++i) index_of[inputs_[i].name] = i;
  for (size_t i = 0; i < arguments.size(); ++i) {
    auto it = index_of.find(arguments[i]);
    argument_order_.push_back(it != index_of.end() ? it->second : i);
  }
  if (std::set<size_t>(argument_order_.begin(), argument_order_.end()).size() != inputs_.size()) {
    argument_order_.clear();  // names only partly match: positions are the only safe mapping
    for (size_t i = 0; i < inputs_.size(); ++i) argument_order_.push_back(i);
  }
}

void ScriptModel::describe_bare() {
  const std::vector<std::string>& arguments = module_->argument_names();
  if (arguments.size() != 1) {
    fail(ErrorCode::kInvalidModel,
         "{}: forward() takes {} tensors ({}); without an amphora.json beside it only a "
         "one-input mel model can be described",
         module_->path(), arguments.size(), joined(arguments));
  }
  TensorInfo mel{"mel", DType::kFloat32, {{-1, "batch"}, {-1, ""}, {-1, "frames"}}, true};
  const int64_t n_mels = module_->first_conv_in_channels();
  if (n_mels > 0) mel.dims[1].size = n_mels;
  inputs_ = {mel};
  outputs_ = {TensorInfo{"audio", DType::kFloat32, {}, false}};
  argument_order_ = {0};
}

void ScriptModel::check_inputs(const std::map<std::string, Tensor>& inputs) const {
  for (const auto& [name, tensor] : inputs) {
    bool declared = false;
    for (const TensorInfo& info : inputs_) declared = declared || info.name == name;
    if (!declared) {
      fail(ErrorCode::kInvalidArgument, "unknown input '{}' (shape {}); the model's inputs are {}",
           name, shape_str(tensor.shape()), names_of(inputs_));
    }
  }
  std::map<std::string, std::pair<int64_t, std::string>> symbols;  // symbol -> (size, where)
  for (const TensorInfo& info : inputs_) {
    auto it = inputs.find(info.name);
    if (it == inputs.end()) {
      fail(ErrorCode::kInvalidArgument, "missing input '{}'; the model's inputs are {}", info.name,
           names_of(inputs_));
    }
    const Tensor& tensor = it->second;
    if (tensor.empty()) {
      fail(ErrorCode::kInvalidArgument, "input '{}' is an empty (null) tensor", info.name);
    }
    if (tensor.dtype() != info.dtype) {
      fail(ErrorCode::kInvalidArgument, "input '{}' has dtype {}, the model expects {}", info.name,
           dtype_name(tensor.dtype()), info.to_string());
    }
    if (!info.rank_known) continue;
    if (tensor.rank() != static_cast<int64_t>(info.dims.size())) {
      fail(ErrorCode::kInvalidArgument, "input '{}' has shape {}, the model expects {}", info.name,
           shape_str(tensor.shape()), info.to_string());
    }
    for (size_t d = 0; d < info.dims.size(); ++d) {
      const DimInfo& dim = info.dims[d];
      const int64_t size = tensor.shape()[d];
      if (dim.size >= 0 && size != dim.size) {
        fail(ErrorCode::kInvalidArgument,
             "input '{}' has shape {}, the model expects {} (dim {} must be {})", info.name,
             shape_str(tensor.shape()), info.to_string(), d, dim.size);
      }
      if (dim.symbol.empty()) continue;
      const std::string where = fmt::format("input '{}' dim {}", info.name, d);
      auto [known, inserted] = symbols.emplace(dim.symbol, std::make_pair(size, where));
      if (!inserted && known->second.first != size) {
        fail(ErrorCode::kInvalidArgument, "input '{}' has shape {}: {} is '{}' = {}, but {} is {}",
             info.name, shape_str(tensor.shape()), where, dim.symbol, size, known->second.second,
             known->second.first);
      }
    }
  }
}

void register_torchscript_backend() {
  register_backend(Backend::kTorchScript,
                   {libtorch_available, [](const std::string& path, const Options& options) {
                      return std::make_unique<ScriptModel>(path, options);
                    }});
}

std::map<std::string, Tensor> ScriptModel::run(const std::map<std::string, Tensor>& inputs) const {
  check_inputs(inputs);
  std::vector<Tensor> arguments;
  for (size_t index : argument_order_) arguments.push_back(inputs.at(inputs_[index].name));
  std::vector<Tensor> results = module_->forward(arguments);
  if (results.size() != outputs_.size()) {
    fail(ErrorCode::kInvalidModel, "{}: forward() returned {} tensors, the model declares {} ({})",
         module_->path(), results.size(), outputs_.size(), names_of(outputs_));
  }
  std::map<std::string, Tensor> outputs;
  for (size_t i = 0; i < results.size(); ++i) outputs[outputs_[i].name] = std::move(results[i]);
  return outputs;
}

}  // namespace amphora::torchscript
