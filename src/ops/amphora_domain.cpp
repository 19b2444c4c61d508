#include "ops/amphora_domain.hpp"

#include <mutex>

#include "ops/attention/attention.hpp"
#include "ops/conv/conv_dw_norm.hpp"
#include "ops/conv/conv_fused.hpp"
#include "ops/elementwise/snake.hpp"
#include "ops/matmul/matmul_fused.hpp"

namespace amphora {

void register_amphora_domain_ops(OpRegistry& registry) {
  register_snake_op(registry);
  register_fused_matmul_op(registry);
  register_fused_conv_ops(registry);
  register_dw_conv_norm_op(registry);
  register_attention_op(registry);
}

void register_amphora_domain_ops_once() {
  static std::once_flag once;
  std::call_once(once, [] { register_amphora_domain_ops(OpRegistry::instance()); });
}

}  // namespace amphora
