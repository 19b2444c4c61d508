#include "graph/onnx_export.hpp"

#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/float16.hpp"

namespace amphora {
namespace {

constexpr int kOnnxFloat16 = 10;  // TensorProto.DataType FLOAT16

void tensor_to_proto(const Tensor& tensor, const std::string& name, bool as_float16,
                     onnx::TensorProto& proto) {
  proto.set_name(name);
  for (int64_t d : tensor.shape()) proto.add_dims(d);
  if (as_float16 && tensor.dtype() == DType::kFloat32) {
    proto.set_data_type(kOnnxFloat16);
    std::string raw(static_cast<size_t>(tensor.numel()) * sizeof(uint16_t), '\0');
    auto* out = reinterpret_cast<uint16_t*>(raw.data());
    const float* in = tensor.data<float>();
    for (int64_t i = 0; i < tensor.numel(); ++i) out[i] = float_to_half(in[i]);
    proto.set_raw_data(std::move(raw));
    return;
  }
  proto.set_data_type(dtype_to_onnx(tensor.dtype()));
  // raw_data is little-endian, as the tensor is in memory; bool is one byte per value in both.
  proto.set_raw_data(static_cast<const char*>(tensor.raw()), tensor.nbytes());
}

void value_info_to_proto(const ValueInfo& info, onnx::ValueInfoProto& proto) {
  proto.set_name(info.name);
  auto* type = proto.mutable_type()->mutable_tensor_type();
  type->set_elem_type(dtype_to_onnx(info.dtype));
  if (!info.rank_known) return;
  auto* shape = type->mutable_shape();
  for (const Dim& d : info.dims) {
    auto* dim = shape->add_dim();
    if (d.is_fixed()) {
      dim->set_dim_value(d.value);
    } else if (!d.symbol.empty()) {
      dim->set_dim_param(d.symbol);
    }
  }
}

void attribute_to_proto(const std::string& name, const Attribute& value,
                        onnx::AttributeProto& proto) {
  using A = onnx::AttributeProto;
  proto.set_name(name);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          proto.set_type(A::INT);
          proto.set_i(v);
        } else if constexpr (std::is_same_v<T, float>) {
          proto.set_type(A::FLOAT);
          proto.set_f(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          proto.set_type(A::STRING);
          proto.set_s(v);
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          proto.set_type(A::INTS);
          for (int64_t x : v) proto.add_ints(x);
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          proto.set_type(A::FLOATS);
          for (float x : v) proto.add_floats(x);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          proto.set_type(A::STRINGS);
          for (const auto& x : v) proto.add_strings(x);
        } else {
          proto.set_type(A::TENSOR);
          tensor_to_proto(v, "", false, *proto.mutable_t());
        }
      },
      value);
}

}  // namespace

std::string serialize_onnx(const Graph& graph, const OnnxWriteOptions& options) {
  onnx::ModelProto model;
  // The IR version the model came with (a newer one than this libonnx knows is kept: the
  // importer only checks such models as if older).
  model.set_ir_version(graph.ir_version > 0 ? graph.ir_version : int64_t{onnx::IR_VERSION});
  model.set_producer_name(graph.producer);
  for (const auto& [domain, version] : graph.opset_imports) {
    auto* opset = model.add_opset_import();
    opset->set_domain(domain);
    opset->set_version(version);
  }
  for (const auto& [key, value] : graph.metadata) {
    auto* prop = model.add_metadata_props();
    prop->set_key(key);
    prop->set_value(value);
  }
  onnx::GraphProto& g = *model.mutable_graph();
  g.set_name(graph.name.empty() ? "amphora" : graph.name);
  for (const ValueInfo& input : graph.inputs) value_info_to_proto(input, *g.add_input());
  for (const ValueInfo& output : graph.outputs) value_info_to_proto(output, *g.add_output());
  for (const auto& [name, tensor] : graph.initializers) {
    tensor_to_proto(tensor, name, options.float16_initializers.count(name) != 0,
                    *g.add_initializer());
  }
  for (const Node& node : graph.nodes) {
    onnx::NodeProto& proto = *g.add_node();
    proto.set_name(node.name);
    proto.set_op_type(node.op_type);
    proto.set_domain(node.domain);
    for (const std::string& in : node.inputs) proto.add_input(in);
    for (const std::string& out : node.outputs) proto.add_output(out);
    for (const auto& [name, value] : node.attributes) {
      attribute_to_proto(name, value, *proto.add_attribute());
    }
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) {
    fail(ErrorCode::kInvalidModel, "cannot serialize the model (over protobuf's 2 GB limit?)");
  }
  return bytes;
}

void save_onnx(const Graph& graph, const std::string& path, const OnnxWriteOptions& options) {
  const std::string bytes = serialize_onnx(graph, options);
  const std::string temporary = path + ".partial";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) {
      fail(ErrorCode::kIo, "{}: cannot write the model: {}", path, std::strerror(errno));
    }
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file) {
      std::remove(temporary.c_str());
      fail(ErrorCode::kIo, "{}: writing the model failed (disk full?)", path);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    fail(ErrorCode::kIo, "{}: cannot replace the file: {}", path, ec.message());
  }
}

}  // namespace amphora
