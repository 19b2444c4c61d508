// Elementwise op family: unary math and activations, broadcasting binary arithmetic,
// comparisons and logic, selection (Min/Max/Clip/Where) and Cast. Each part lives in its own
// elementwise_*.cpp; the shared dtype errors live here.
#include "ops/elementwise/elementwise_common.hpp"

namespace amphora {

void fail_dtype(const Node& node, size_t input, DType dtype, const char* supported) {
  std::string name = input < node.inputs.size() ? node.inputs[input] : std::string("?");
  fail(ErrorCode::kUnsupported, "{}: input #{} '{}' has dtype {}, which {} does not support ({})",
       node.display_name(), input, name, dtype_name(dtype), node.op_type, supported);
}

void check_same_dtype(const Node& node, const std::vector<const Tensor*>& inputs, size_t first,
                      size_t last) {
  const Tensor* reference = nullptr;
  size_t reference_index = 0;
  for (size_t i = first; i <= last && i < inputs.size(); ++i) {
    if (!inputs[i]) continue;
    if (!reference) {
      reference = inputs[i];
      reference_index = i;
    } else if (inputs[i]->dtype() != reference->dtype()) {
      fail(ErrorCode::kInvalidArgument, "{}: input #{} has dtype {} but input #{} has dtype {}",
           node.display_name(), i, dtype_name(inputs[i]->dtype()), reference_index,
           dtype_name(reference->dtype()));
    }
  }
}

void register_elementwise_ops(OpRegistry& registry) {
  register_unary_ops(registry);
  register_binary_ops(registry);
  register_selection_ops(registry);
  register_cast_ops(registry);
  register_activation_ops(registry);
  register_elementwise_stream_rules(registry);
}

}  // namespace amphora
