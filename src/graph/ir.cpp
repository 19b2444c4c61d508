#include "graph/ir.hpp"

namespace amphora {

std::string Node::display_name() const {
  if (!name.empty()) return fmt::format("{} '{}'", op_type, name);
  return fmt::format("{} #{}", op_type, index);
}

namespace {
template <typename T>
const T* find_attr(const Node& node, const std::string& attr, const char* expected) {
  auto it = node.attributes.find(attr);
  if (it == node.attributes.end()) return nullptr;
  const T* value = std::get_if<T>(&it->second);
  if (!value) {
    fail(ErrorCode::kInvalidModel, "{}: attribute '{}' should be {}", node.display_name(), attr,
         expected);
  }
  return value;
}
}  // namespace

int64_t Node::get_int(const std::string& attr, int64_t fallback) const {
  const auto* v = find_attr<int64_t>(*this, attr, "an int");
  return v ? *v : fallback;
}

int64_t Node::get_int(const std::string& attr) const {
  const auto* v = find_attr<int64_t>(*this, attr, "an int");
  if (!v) fail(ErrorCode::kInvalidModel, "{}: required attribute '{}' is missing", display_name(), attr);
  return *v;
}

float Node::get_float(const std::string& attr, float fallback) const {
  const auto* v = find_attr<float>(*this, attr, "a float");
  return v ? *v : fallback;
}

std::string Node::get_string(const std::string& attr, const std::string& fallback) const {
  const auto* v = find_attr<std::string>(*this, attr, "a string");
  return v ? *v : fallback;
}

std::vector<int64_t> Node::get_ints(const std::string& attr, std::vector<int64_t> fallback) const {
  const auto* v = find_attr<std::vector<int64_t>>(*this, attr, "a list of ints");
  return v ? *v : fallback;
}

std::vector<float> Node::get_floats(const std::string& attr, std::vector<float> fallback) const {
  const auto* v = find_attr<std::vector<float>>(*this, attr, "a list of floats");
  return v ? *v : fallback;
}

const Tensor& Node::get_tensor(const std::string& attr) const {
  const auto* v = find_attr<Tensor>(*this, attr, "a tensor");
  if (!v) fail(ErrorCode::kInvalidModel, "{}: required attribute '{}' is missing", display_name(), attr);
  return *v;
}

int64_t Graph::opset(const std::string& domain) const {
  auto it = opset_imports.find(domain == "ai.onnx" ? "" : domain);
  return it == opset_imports.end() ? 0 : it->second;
}

}  // namespace amphora
