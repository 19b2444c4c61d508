// Builds small ONNX models in C++ for the graph/runtime/CLI tests, so they need no Python.
//   std::string bytes = OnnxModelBuilder(17)
//       .input("x", onnx::TensorProto::FLOAT, {"batch", "3"})
//       .node("Relu", {"x"}, {"y"})
//       .output("y", onnx::TensorProto::FLOAT, {"batch", "3"})
//       .bytes();
// Dims that are all digits become dim_value, others dim_param; "?" leaves the dim unknown.
#pragma once

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/tensor.hpp"

namespace amphora::testing {

class OnnxModelBuilder {
 public:
  explicit OnnxModelBuilder(int64_t opset = 17, const std::string& domain = "") {
    model_.set_ir_version(8);
    model_.set_producer_name("amphora-tests");
    auto* op = model_.add_opset_import();
    op->set_domain(domain);
    op->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }

  OnnxModelBuilder& opset(const std::string& domain, int64_t version) {
    auto* op = model_.add_opset_import();
    op->set_domain(domain);
    op->set_version(version);
    return *this;
  }
  OnnxModelBuilder& input(const std::string& name, int elem_type, std::vector<std::string> dims) {
    fill(model_.mutable_graph()->add_input(), name, elem_type, dims);
    return *this;
  }
  OnnxModelBuilder& output(const std::string& name, int elem_type, std::vector<std::string> dims) {
    fill(model_.mutable_graph()->add_output(), name, elem_type, dims);
    return *this;
  }
  // Adds a node; returns it so the caller can add attributes.
  onnx::NodeProto& node(const std::string& op_type, std::vector<std::string> inputs,
                        std::vector<std::string> outputs, const std::string& domain = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op_type);
    n->set_domain(domain);
    n->set_name(op_type + "_" + std::to_string(model_.graph().node_size()));
    for (auto& i : inputs) n->add_input(i);
    for (auto& o : outputs) n->add_output(o);
    return *n;
  }
  OnnxModelBuilder& add(const std::string& op_type, std::vector<std::string> inputs,
                        std::vector<std::string> outputs, const std::string& domain = "") {
    node(op_type, std::move(inputs), std::move(outputs), domain);
    return *this;
  }
  OnnxModelBuilder& initializer(const std::string& name, const Tensor& value, bool raw = true) {
    to_proto(value, model_.mutable_graph()->add_initializer(), raw)->set_name(name);
    return *this;
  }
  OnnxModelBuilder& metadata(const std::string& key, const std::string& value) {
    auto* p = model_.add_metadata_props();
    p->set_key(key);
    p->set_value(value);
    return *this;
  }

  onnx::ModelProto& proto() { return model_; }
  std::string bytes() const { return model_.SerializeAsString(); }
  void save(const std::string& path) const { std::ofstream(path, std::ios::binary) << bytes(); }

  static onnx::TensorProto* to_proto(const Tensor& value, onnx::TensorProto* proto, bool raw) {
    proto->set_data_type(dtype_to_onnx(value.dtype()));
    for (int64_t d : value.shape()) proto->add_dims(d);
    if (raw) {
      proto->set_raw_data(std::string(static_cast<const char*>(value.raw()), value.nbytes()));
    } else if (value.dtype() == DType::kFloat32) {
      for (float v : value.to_float_vector()) proto->add_float_data(v);
    } else if (value.dtype() == DType::kInt64) {
      for (int64_t v : value.to_int64_vector()) proto->add_int64_data(v);
    } else {
      for (int64_t v : value.to_int64_vector()) proto->add_int32_data(static_cast<int32_t>(v));
    }
    return proto;
  }

 private:
  static void fill(onnx::ValueInfoProto* vi, const std::string& name, int elem_type,
                   const std::vector<std::string>& dims) {
    vi->set_name(name);
    auto* tensor_type = vi->mutable_type()->mutable_tensor_type();
    tensor_type->set_elem_type(elem_type);
    auto* shape = tensor_type->mutable_shape();
    for (const auto& d : dims) {
      auto* dim = shape->add_dim();
      if (d == "?") continue;
      bool digits = !d.empty() && std::all_of(d.begin(), d.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
      });
      if (digits) {
        dim->set_dim_value(std::stoll(d));
      } else {
        dim->set_dim_param(d);
      }
    }
  }

  onnx::ModelProto model_;
};

}  // namespace amphora::testing
