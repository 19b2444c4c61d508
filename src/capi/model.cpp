// amphora_model: amphora::Model behind the C ABI. Inputs are copied from the caller's buffers
// into Tensors; outputs go back in one allocation (descriptors, shapes, names, data), so that a
// single amphora_free releases them whatever their number.
#include <cstdlib>
#include <map>
#include <new>

#include "capi/boundary.hpp"

namespace amphora::capi {
namespace {

static_assert(AMPHORA_DTYPE_FLOAT32 == static_cast<int>(DType::kFloat32) &&
                  AMPHORA_DTYPE_FLOAT64 == static_cast<int>(DType::kFloat64) &&
                  AMPHORA_DTYPE_INT64 == static_cast<int>(DType::kInt64) &&
                  AMPHORA_DTYPE_INT32 == static_cast<int>(DType::kInt32) &&
                  AMPHORA_DTYPE_INT8 == static_cast<int>(DType::kInt8) &&
                  AMPHORA_DTYPE_UINT8 == static_cast<int>(DType::kUint8) &&
                  AMPHORA_DTYPE_BOOL == static_cast<int>(DType::kBool),
              "amphora_dtype mirrors amphora::DType");

// No model has tensors of more dimensions; a larger rank is a garbage descriptor.
constexpr int32_t kMaxRank = 64;
constexpr size_t kOutputAlignment = 64;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// inputs[index] as a Tensor, after checking that its descriptor describes its buffer.
Tensor tensor_of(const amphora_tensor& given, size_t index) {
  if (!given.name) refuse(AMPHORA_STATUS_NULL_ARGUMENT, "inputs[{}].name is NULL", index);
  const std::string where = fmt::format("inputs[{}] ('{}')", index, given.name);
  if (given.dtype < AMPHORA_DTYPE_FLOAT32 || given.dtype > AMPHORA_DTYPE_BOOL) {
    refuse(AMPHORA_STATUS_INVALID_ARGUMENT, "{}: dtype {} is not an amphora_dtype", where,
           given.dtype);
  }
  if (given.rank < 0 || given.rank > kMaxRank) {
    refuse(AMPHORA_STATUS_INVALID_ARGUMENT, "{}: rank {} is not in [0, {}]", where, given.rank,
           kMaxRank);
  }
  if (given.rank > 0 && !given.shape) {
    refuse(AMPHORA_STATUS_NULL_ARGUMENT, "{}: shape is NULL for rank {}", where, given.rank);
  }
  const DType dtype = static_cast<DType>(given.dtype);
  const Shape shape(given.shape, given.shape + given.rank);
  int64_t elements = 1;
  for (int64_t dim : shape) {
    if (dim < 0) {
      refuse(AMPHORA_STATUS_INVALID_ARGUMENT, "{}: shape {} has a negative size", where,
             shape_str(shape));
    }
    if (dim > 0 && elements > kMaxTensorElements / dim) {
      refuse(AMPHORA_STATUS_OUT_OF_RANGE, "{}: shape {} has more than {} elements", where,
             shape_str(shape), kMaxTensorElements);
    }
    elements *= dim;
  }
  const size_t bytes = static_cast<size_t>(elements) * dtype_size(dtype);
  if (given.data_size != bytes) {
    refuse(AMPHORA_STATUS_INVALID_ARGUMENT,
           "{}: {} {} takes {} bytes, but data_size is {}: the shape does not describe the data",
           where, dtype_name(dtype), shape_str(shape), bytes, given.data_size);
  }
  if (bytes > 0 && !given.data) refuse(AMPHORA_STATUS_NULL_ARGUMENT, "{}: data is NULL", where);
  Tensor tensor = Tensor::uninitialized(dtype, shape);
  if (dtype == DType::kBool) {
    // Any non-zero byte is true; a C++ bool holding another value would be undefined.
    const auto* in = static_cast<const unsigned char*>(given.data);
    bool* out = tensor.data<bool>();
    for (int64_t i = 0; i < elements; ++i) out[i] = in[i] != 0;
  } else if (bytes > 0) {
    std::memcpy(tensor.raw(), given.data, bytes);
  }
  return tensor;
}

// The outputs in the model's order, in one block: the descriptors, then the shapes, the names,
// and each tensor's data 64-byte aligned.
amphora_tensor* pack_outputs(const std::vector<TensorInfo>& order,
                             const std::map<std::string, Tensor>& outputs) {
  std::vector<const Tensor*> tensors;
  size_t shapes_at = round_up(order.size() * sizeof(amphora_tensor), alignof(int64_t));
  size_t names_at = shapes_at;
  for (const TensorInfo& info : order) {
    const auto it = outputs.find(info.name);
    if (it == outputs.end())
      refuse(AMPHORA_STATUS_INTERNAL, "the run made no output '{}'", info.name);
    tensors.push_back(&it->second);
    names_at += it->second.shape().size() * sizeof(int64_t);
  }
  size_t data_at = names_at;
  for (const TensorInfo& info : order) data_at += info.name.size() + 1;
  size_t total = data_at;
  for (const Tensor* tensor : tensors) total = round_up(total, kOutputAlignment) + tensor->nbytes();
  total = round_up(std::max<size_t>(total, 1), kOutputAlignment);

  auto* block = static_cast<unsigned char*>(std::aligned_alloc(kOutputAlignment, total));
  if (!block) throw std::bad_alloc();
  auto* descriptors = reinterpret_cast<amphora_tensor*>(block);
  for (size_t i = 0; i < order.size(); ++i) {
    const Tensor& tensor = *tensors[i];
    auto* shape = reinterpret_cast<int64_t*>(block + shapes_at);
    std::copy(tensor.shape().begin(), tensor.shape().end(), shape);
    shapes_at += tensor.shape().size() * sizeof(int64_t);
    char* name = reinterpret_cast<char*>(block + names_at);
    std::memcpy(name, order[i].name.c_str(), order[i].name.size() + 1);
    names_at += order[i].name.size() + 1;
    data_at = round_up(data_at, kOutputAlignment);
    void* data = tensor.nbytes() > 0 ? block + data_at : nullptr;
    if (data) std::memcpy(data, tensor.raw(), tensor.nbytes());
    data_at += tensor.nbytes();
    descriptors[i] = amphora_tensor{name,
                                    static_cast<int32_t>(tensor.dtype()),
                                    static_cast<int32_t>(tensor.rank()),
                                    tensor.rank() > 0 ? shape : nullptr,
                                    data,
                                    tensor.nbytes()};
  }
  return descriptors;
}

void describe(const std::vector<TensorInfo>& infos, size_t index, const char* kind,
              const char** name, amphora_dtype* dtype) {
  if (index >= infos.size()) {
    refuse(AMPHORA_STATUS_OUT_OF_RANGE, "{} {} does not exist: the model has {}", kind, index,
           infos.size());
  }
  if (name) *name = infos[index].name.c_str();
  if (dtype) *dtype = static_cast<amphora_dtype>(infos[index].dtype);
}

}  // namespace
}  // namespace amphora::capi

using namespace amphora::capi;

extern "C" {

amphora_status amphora_model_load(const char* path, const amphora_options* options,
                                  amphora_model** model) {
  clear(model);
  return guarded(__func__, [&] {
    require(model, "model");
    require(path, "path");
    *model = new amphora_model{amphora::Model::load(path, load_options(options))};
  });
}

void amphora_model_destroy(amphora_model* model) { delete model; }

amphora_status amphora_model_input_count(const amphora_model* model, size_t* count) {
  clear(count);
  return guarded(__func__,
                 [&] { require(count, "count") = require(model, "model").model.inputs().size(); });
}

amphora_status amphora_model_output_count(const amphora_model* model, size_t* count) {
  clear(count);
  return guarded(__func__,
                 [&] { require(count, "count") = require(model, "model").model.outputs().size(); });
}

amphora_status amphora_model_input(const amphora_model* model, size_t index, const char** name,
                                   amphora_dtype* dtype) {
  clear(name);
  return guarded(__func__, [&] {
    if (!name && !dtype) refuse(AMPHORA_STATUS_NULL_ARGUMENT, "name and dtype are both NULL");
    describe(require(model, "model").model.inputs(), index, "input", name, dtype);
  });
}

amphora_status amphora_model_output(const amphora_model* model, size_t index, const char** name,
                                    amphora_dtype* dtype) {
  clear(name);
  return guarded(__func__, [&] {
    if (!name && !dtype) refuse(AMPHORA_STATUS_NULL_ARGUMENT, "name and dtype are both NULL");
    describe(require(model, "model").model.outputs(), index, "output", name, dtype);
  });
}

amphora_status amphora_model_run(const amphora_model* model, const amphora_tensor* inputs,
                                 size_t input_count, amphora_tensor** outputs,
                                 size_t* output_count) {
  clear(outputs);
  clear(output_count);
  return guarded(__func__, [&] {
    const amphora::Model& loaded = require(model, "model").model;
    require(outputs, "outputs");
    require(output_count, "output_count");
    if (input_count > 0) require(inputs, "inputs");
    std::map<std::string, amphora::Tensor> named;
    for (size_t i = 0; i < input_count; ++i) {
      amphora::Tensor tensor = tensor_of(inputs[i], i);
      if (!named.emplace(inputs[i].name, std::move(tensor)).second) {
        refuse(AMPHORA_STATUS_INVALID_ARGUMENT, "inputs[{}]: '{}' is given twice", i,
               inputs[i].name);
      }
    }
    const std::map<std::string, amphora::Tensor> results = loaded.run(named);
    *outputs = pack_outputs(loaded.outputs(), results);
    *output_count = loaded.outputs().size();
  });
}

}  // extern "C"
