#include "graph/onnx_import.hpp"

#include <fcntl.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "core/float16.hpp"
#include "graph/onnx_inference_guard.hpp"

namespace amphora {

namespace {

void check_not_directory(const std::string& path, const char* what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    fail(ErrorCode::kIo, "{}: is a directory, expected {}", path, what);
  }
}

std::string read_file(const std::string& path, const char* what) {
  check_not_directory(path, what);
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(ErrorCode::kIo, "{}: cannot open {}: {}", path, what, std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) fail(ErrorCode::kIo, "{}: read error", path);
  return bytes;
}

// Copies `count` typed protobuf values into the tensor, converting to its element type.
template <typename Repeated>
void copy_typed(const Repeated& values, Tensor& tensor, const std::string& what) {
  if (static_cast<int64_t>(values.size()) != tensor.numel()) {
    fail(ErrorCode::kInvalidModel, "{}: holds {} values but its shape {} needs {}", what,
         values.size(), shape_str(tensor.shape()), tensor.numel());
  }
  visit_dtype(tensor.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = tensor.data<T>();
    for (int i = 0; i < values.size(); ++i) {
      if constexpr (std::is_same_v<T, bool>) {
        out[i] = values.Get(i) != 0;
      } else {
        out[i] = static_cast<T>(values.Get(i));
      }
    }
  });
}

// A float16 tensor (weights `amphora quantize --fp16` stored at half size) becomes float32:
// amphora computes in float32, and the graph's Cast to float then has nothing left to do.
Tensor widen_float16(const onnx::TensorProto& proto, const std::string& what) {
  Shape shape(proto.dims().begin(), proto.dims().end());
  int64_t numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const Error& e) {
    fail(e.code(), "{}: {}", what, e.what());
  }
  Tensor tensor(DType::kFloat32, shape);
  float* out = tensor.data<float>();
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (raw.size() != static_cast<size_t>(numel) * 2) {
      fail(ErrorCode::kInvalidModel, "{}: raw_data has {} bytes but shape {} of float16 needs {}",
           what, raw.size(), shape_str(shape), numel * 2);
    }
    for (int64_t i = 0; i < numel; ++i) {
      uint16_t h;
      std::memcpy(&h, raw.data() + 2 * i, 2);
      out[i] = half_to_float(h);
    }
  } else {
    // Without raw_data, ONNX keeps each half's bits in an int32_data entry.
    if (proto.int32_data_size() != numel) {
      fail(ErrorCode::kInvalidModel, "{}: holds {} values but its shape {} needs {}", what,
           proto.int32_data_size(), shape_str(shape), numel);
    }
    for (int64_t i = 0; i < numel; ++i) {
      out[i] = half_to_float(static_cast<uint16_t>(proto.int32_data(static_cast<int>(i))));
    }
  }
  return tensor;
}

Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& what) {
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    fail(ErrorCode::kUnsupported,
         "{}: tensor data is stored in an external file; amphora needs it embedded "
         "(onnx.load(path) then onnx.save(model, path, save_as_external_data=False))",
         what);
  }
  if (proto.has_segment()) fail(ErrorCode::kUnsupported, "{}: segmented tensors", what);
  DType dtype = DType::kFloat32;
  try {
    if (proto.data_type() != onnx::TensorProto::FLOAT16) dtype = dtype_from_onnx(proto.data_type());
  } catch (const Error& e) {
    fail(e.code(), "{}: {}", what, e.what());
  }
  if (proto.data_type() == onnx::TensorProto::FLOAT16) return widen_float16(proto, what);
  Shape shape;
  for (int64_t d : proto.dims()) {
    if (d < 0) fail(ErrorCode::kInvalidModel, "{}: negative dimension {}", what, d);
    shape.push_back(d);
  }
  // Check the stored size against the shape before allocating: a corrupt file must not make
  // us allocate gigabytes for a few bytes of data.
  int64_t numel = 0;
  try {
    numel = shape_numel(shape);
  } catch (const Error& e) {
    fail(e.code(), "{}: {}", what, e.what());
  }
  size_t nbytes = static_cast<size_t>(numel) * dtype_size(dtype);
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (raw.size() != nbytes) {
      fail(ErrorCode::kInvalidModel, "{}: raw_data has {} bytes but shape {} of {} needs {}", what,
           raw.size(), shape_str(shape), dtype_name(dtype), nbytes);
    }
    Tensor tensor(dtype, shape);
    if (!raw.empty()) std::memcpy(tensor.raw(), raw.data(), raw.size());
    if (dtype == DType::kBool) {
      auto* p = static_cast<unsigned char*>(tensor.raw());
      for (int64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
    }
    return tensor;
  }
  int64_t stored = 0;
  switch (dtype) {
    case DType::kFloat32:
      stored = proto.float_data_size();
      break;
    case DType::kFloat64:
      stored = proto.double_data_size();
      break;
    case DType::kInt64:
      stored = proto.int64_data_size();
      break;
    default:
      stored = proto.int32_data_size();
      break;
  }
  if (stored != numel) {
    fail(ErrorCode::kInvalidModel, "{}: holds {} values but its shape {} needs {}", what, stored,
         shape_str(shape), numel);
  }
  Tensor tensor(dtype, shape);
  switch (dtype) {
    case DType::kFloat32:
      copy_typed(proto.float_data(), tensor, what);
      break;
    case DType::kFloat64:
      copy_typed(proto.double_data(), tensor, what);
      break;
    case DType::kInt64:
      copy_typed(proto.int64_data(), tensor, what);
      break;
    default:
      copy_typed(proto.int32_data(), tensor, what);
      break;  // int32/int8/uint8/bool
  }
  return tensor;
}

ValueInfo value_info_from_proto(const onnx::ValueInfoProto& proto, const std::string& source) {
  ValueInfo info;
  info.name = proto.name();
  if (!proto.type().has_tensor_type()) {
    fail(ErrorCode::kUnsupported,
         "{}: value '{}' is not a tensor (sequences, maps and optionals "
         "are not supported)",
         source, proto.name());
  }
  const auto& tensor_type = proto.type().tensor_type();
  try {
    info.dtype = dtype_from_onnx(tensor_type.elem_type());
  } catch (const Error& e) {
    fail(e.code(), "{}: value '{}': {}", source, proto.name(), e.what());
  }
  info.rank_known = tensor_type.has_shape();
  for (const auto& d : tensor_type.shape().dim()) {
    Dim dim;
    if (d.has_dim_value()) dim.value = d.dim_value();
    if (d.has_dim_param()) dim.symbol = d.dim_param();
    info.dims.push_back(dim);
  }
  return info;
}

Attribute attribute_from_proto(const onnx::AttributeProto& proto, const std::string& where) {
  using A = onnx::AttributeProto;
  switch (proto.type()) {
    case A::INT:
      return proto.i();
    case A::FLOAT:
      return proto.f();
    case A::STRING:
      return proto.s();
    case A::INTS:
      return std::vector<int64_t>(proto.ints().begin(), proto.ints().end());
    case A::FLOATS:
      return std::vector<float>(proto.floats().begin(), proto.floats().end());
    case A::STRINGS:
      return std::vector<std::string>(proto.strings().begin(), proto.strings().end());
    case A::TENSOR:
      return tensor_from_proto(proto.t(), where + " attribute '" + proto.name() + "'");
    default:
      break;
  }
  fail(ErrorCode::kUnsupported,
       "{}: attribute '{}' has type {} (graphs, sparse tensors and type protos are not supported)",
       where, proto.name(), A::AttributeType_Name(proto.type()));
}

std::string canonical_domain(const std::string& domain) {
  return domain == "ai.onnx" ? "" : domain;
}

// Consumes the model's initializer data: each one's bytes are freed as soon as it is a Tensor,
// so a model's weights are held once, not twice, while it loads (1 GB for Vocos at Amphion's
// size).
Graph graph_from_model(onnx::ModelProto& model, const std::string& source) {
  Graph graph;
  graph.producer = model.producer_name();
  graph.name = model.graph().name();
  for (const auto& opset : model.opset_import()) {
    graph.opset_imports[canonical_domain(opset.domain())] = opset.version();
  }
  for (const auto& prop : model.metadata_props()) graph.metadata[prop.key()] = prop.value();

  onnx::GraphProto& g = *model.mutable_graph();
  for (auto& init : *g.mutable_initializer()) {
    graph.initializers[init.name()] =
        tensor_from_proto(init, fmt::format("{}: initializer '{}'", source, init.name()));
    if (init.data_type() == onnx::TensorProto::FLOAT16) graph.float16_initializers.insert(init.name());
    std::string().swap(*init.mutable_raw_data());
  }
  if (g.sparse_initializer_size() > 0) {
    fail(ErrorCode::kUnsupported, "{}: sparse initializers are not supported", source);
  }
  for (const auto& input : g.input()) {
    // Before IR version 4 every initializer was also listed as a graph input.
    if (graph.initializers.count(input.name())) continue;
    graph.inputs.push_back(value_info_from_proto(input, source));
  }
  for (const auto& output : g.output())
    graph.outputs.push_back(value_info_from_proto(output, source));
  for (const auto& vi : g.value_info()) {
    // Shape inference may leave element types it cannot express in our DType (e.g. float16
    // intermediates of an unsupported op); the runtime only uses this as a hint, so skip them.
    try {
      graph.value_info[vi.name()] = value_info_from_proto(vi, source);
    } catch (const Error&) {
    }
  }
  graph.nodes.reserve(static_cast<size_t>(g.node_size()));
  for (const auto& proto : g.node()) {
    Node node;
    node.index = graph.nodes.size();
    node.name = proto.name();
    node.op_type = proto.op_type();
    node.domain = canonical_domain(proto.domain());
    node.inputs.assign(proto.input().begin(), proto.input().end());
    node.outputs.assign(proto.output().begin(), proto.output().end());
    std::string where = fmt::format("{}: node {}", source, node.display_name());
    for (const auto& attr : proto.attribute()) {
      node.attributes[attr.name()] = attribute_from_proto(attr, where);
    }
    graph.nodes.push_back(std::move(node));
  }
  return graph;
}

bool has_external_data(const onnx::GraphProto& g) {
  for (const auto& init : g.initializer()) {
    if (init.data_location() == onnx::TensorProto::EXTERNAL) return true;
  }
  return false;
}

}  // namespace

namespace {

// Checks, shape-infers and imports a parsed model.
Graph import_model(onnx::ModelProto& model, const std::string& source) {
  if (!model.has_graph()) fail(ErrorCode::kInvalidModel, "{}: ONNX model has no graph", source);
  if (has_external_data(model.graph())) {
    fail(ErrorCode::kUnsupported,
         "{}: the model keeps its weights in external data files; "
         "amphora needs them embedded (onnx.save(model, path, save_as_external_data=False))",
         source);
  }
  // Newer exporters write IR versions this libonnx (1.12, IR 8) refuses outright, although
  // the graphs usually use nothing newer. Check them as IR 8: anything that really needs a
  // newer IR (new element types, function overloads) still fails in the checker or below.
  const int64_t declared_ir_version = model.ir_version();
  if (model.ir_version() > onnx::IR_VERSION) model.set_ir_version(onnx::IR_VERSION);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    fail(ErrorCode::kInvalidModel, "{}: the ONNX checker rejects the model: {}", source, e.what());
  }
  try {
    onnx::shape_inference::InferShapes(model, guarded_schema_registry());
  } catch (const std::exception& e) {
    fail(ErrorCode::kInvalidModel, "{}: ONNX shape inference fails: {}", source, e.what());
  }
  Graph graph = graph_from_model(model, source);
  graph.ir_version = declared_ir_version;
  return graph;
}

[[noreturn]] void fail_to_parse(const std::string& source) {
  fail(ErrorCode::kInvalidModel,
       "{}: not a valid ONNX model (protobuf parse failed: the file is truncated or corrupt)",
       source);
}

}  // namespace

Graph load_onnx_from_bytes(const std::string& bytes, const std::string& source) {
  onnx::ModelProto model;
  if (bytes.empty()) fail(ErrorCode::kInvalidModel, "{}: empty file, not an ONNX model", source);
  if (!model.ParseFromString(bytes)) fail_to_parse(source);
  return import_model(model, source);
}

// Parsed from the file descriptor, not from a copy of the file in memory: one copy of the
// weights less at load (the file's size in peak RSS) and one pass over them less.
Graph load_onnx(const std::string& path) {
  check_not_directory(path, "an ONNX model");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::kIo, "{}: cannot open an ONNX model: {}", path, std::strerror(errno));
  struct stat info {};
  const bool empty = ::fstat(fd, &info) == 0 && info.st_size == 0;
  onnx::ModelProto model;
  const bool parsed = !empty && model.ParseFromFileDescriptor(fd);
  ::close(fd);
  if (empty) fail(ErrorCode::kInvalidModel, "{}: empty file, not an ONNX model", path);
  if (!parsed) fail_to_parse(path);
  return import_model(model, path);
}

Tensor load_onnx_tensor(const std::string& path) {
  std::string bytes = read_file(path, "a TensorProto file");
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) {
    fail(ErrorCode::kInvalidModel, "{}: not a valid serialized onnx.TensorProto", path);
  }
  return tensor_from_proto(proto, path);
}

}  // namespace amphora
