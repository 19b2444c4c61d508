// amphora's own graph IR, independent of protobuf. The ONNX importer (graph/onnx_import) fills
// it; passes rewrite it; the runtime executes it. Values are named by strings as in ONNX; an
// empty input name means "optional input not given".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "core/tensor.hpp"

namespace amphora {

// One dimension of a declared input/output: a fixed size or a symbol such as "T".
struct Dim {
  int64_t value = -1;  // >= 0 when fixed
  std::string symbol;  // non-empty when symbolic; both unset means unknown
  bool is_fixed() const { return value >= 0; }
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<Dim> dims;
  bool rank_known = true;  // false when the model declares no shape at all (dims is then empty)
};

using Attribute = std::variant<int64_t, float, std::string, std::vector<int64_t>,
                               std::vector<float>, std::vector<std::string>, Tensor>;

struct Node {
  std::string name;  // may be empty in ONNX; use display_name() in messages
  std::string op_type;
  std::string domain;  // "" is the default ONNX domain ("ai.onnx")
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;

  std::string display_name() const;  // "Conv 'conv_pre'" or "Conv #12"
  bool has(const std::string& attr) const { return attributes.count(attr) != 0; }
  // Typed attribute access; the defaulted forms return `fallback` when absent and fail with
  // kInvalidModel naming this node when the attribute has another type.
  int64_t get_int(const std::string& attr, int64_t fallback) const;
  int64_t get_int(const std::string& attr) const;
  float get_float(const std::string& attr, float fallback) const;
  std::string get_string(const std::string& attr, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& attr, std::vector<int64_t> fallback = {}) const;
  std::vector<float> get_floats(const std::string& attr, std::vector<float> fallback = {}) const;
  const Tensor& get_tensor(const std::string& attr) const;

  size_t index = 0;  // position in Graph::nodes, for "node #N" in messages
};

struct Graph {
  std::vector<ValueInfo> inputs;  // graph inputs, excluding those that are initializers
  std::vector<ValueInfo> outputs;
  // Types/shapes of intermediate values as declared or found by ONNX shape inference; may be
  // partial (unknown dims) and does not include inputs, outputs or initializers.
  std::map<std::string, ValueInfo> value_info;
  std::map<std::string, Tensor> initializers;
  std::vector<Node> nodes;                       // topologically sorted
  std::map<std::string, int64_t> opset_imports;  // domain -> version ("" for ai.onnx)
  std::map<std::string, std::string> metadata;   // ONNX metadata_props
  std::string producer;
  std::string name;        // the ONNX graph's name
  // Initializers the file stored as float16; the importer widened them to float32.
  std::set<std::string> float16_initializers;
  int64_t ir_version = 0;  // as the file declared it (0: not from a file)

  int64_t opset(const std::string& domain = "") const;
};

}  // namespace amphora
