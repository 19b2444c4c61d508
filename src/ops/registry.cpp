#include <algorithm>

#include "ops/kernel.hpp"

namespace amphora {

OpRegistry& OpRegistry::instance() {
  static OpRegistry* registry = [] {
    auto* r = new OpRegistry();
    register_elementwise_ops(*r);
    register_reduce_ops(*r);
    register_shape_ops(*r);
    register_pad_resize_ops(*r);
    register_conv_ops(*r);
    register_matmul_ops(*r);
    register_quantize_ops(*r);
    return r;
  }();
  return *registry;
}

void OpRegistry::add(const std::string& domain, const std::string& op_type, int64_t since_version,
                     KernelFactory factory) {
  auto& list = entries_[{domain, op_type}];
  list.push_back({since_version, std::move(factory)});
  std::sort(list.begin(), list.end(),
            [](const Entry& a, const Entry& b) { return a.since_version < b.since_version; });
}

static const std::string& canonical_domain(const std::string& domain) {
  static const std::string kDefault;
  return domain == "ai.onnx" ? kDefault : domain;
}

bool OpRegistry::supports(const std::string& domain, const std::string& op_type,
                          int64_t opset) const {
  auto it = entries_.find({canonical_domain(domain), op_type});
  if (it == entries_.end()) return false;
  return it->second.front().since_version <= opset;
}

std::unique_ptr<Kernel> OpRegistry::create(const Node& node, int64_t opset,
                                           const KernelOptions& options) const {
  auto it = entries_.find({canonical_domain(node.domain), node.op_type});
  const Entry* chosen = nullptr;
  if (it != entries_.end()) {
    for (const Entry& e : it->second) {
      if (e.since_version <= opset) chosen = &e;
    }
  }
  if (!chosen) {
    fail(ErrorCode::kUnsupported, "unsupported op {} (domain '{}', opset {}) at node {}",
         node.op_type, node.domain.empty() ? "ai.onnx" : node.domain, opset, node.display_name());
  }
  return chosen->factory(node, opset, options);
}

void OpRegistry::set_stream_rule(const std::string& domain, const std::string& op_type,
                                 StreamRule rule) {
  stream_rules_[{canonical_domain(domain), op_type}] = std::move(rule);
}

void OpRegistry::set_stream_rule(const std::vector<std::string>& op_types, const StreamRule& rule) {
  for (const std::string& op_type : op_types) set_stream_rule("", op_type, rule);
}

const StreamRule* OpRegistry::stream_rule(const std::string& domain,
                                          const std::string& op_type) const {
  auto it = stream_rules_.find({canonical_domain(domain), op_type});
  return it == stream_rules_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::op_types() const {
  std::vector<std::string> out;
  for (const auto& [key, list] : entries_) out.push_back(key.second);
  std::sort(out.begin(), out.end());
  return out;
}

void check_input_count(const Node& node, const std::vector<const Tensor*>& inputs, size_t required,
                       size_t max_inputs) {
  if (inputs.size() < required || inputs.size() > max_inputs) {
    fail(ErrorCode::kInvalidModel, "{}: expected {}..{} inputs, got {}", node.display_name(),
         required, max_inputs, inputs.size());
  }
  for (size_t i = 0; i < required; ++i) {
    if (!inputs[i]) {
      fail(ErrorCode::kInvalidArgument, "{}: required input #{} is missing", node.display_name(),
           i);
    }
  }
}

int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    fail(ErrorCode::kInvalidModel, "{}: axis {} out of range for rank {}", node.display_name(),
         axis, rank);
  }
  return a;
}

}  // namespace amphora
