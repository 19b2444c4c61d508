#include "graph/onnx_inference_guard.hpp"

#include <onnx/defs/shape_inference.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace amphora {

namespace {

// Conv-like ops take the kernel shape from W when the kernel_shape attribute is absent, then
// index per-spatial-axis vectors sized from X's rank: libonnx 1.12 reads past them (a null
// dereference) when rank(W) != rank(X). It also divides by strides without checking them
// (SIGFPE on a zero stride). Both are refused before the original function runs.
struct GuardedOp {
  const char* op_type;
  int weight_index;  // input holding W, or -1 for pooling ops
};
constexpr GuardedOp kGuardedOps[] = {
    {"Conv", 1},     {"ConvTranspose", 1}, {"ConvInteger", 1}, {"QLinearConv", 3},
    {"MaxPool", -1}, {"AveragePool", -1},  {"LpPool", -1},     {"MaxUnpool", -1},
};

void check_positive(onnx::InferenceContext& ctx, const char* name) {
  const onnx::AttributeProto* attr = ctx.getAttribute(name);
  if (!attr) return;
  for (int64_t v : attr->ints()) {
    if (v <= 0) fail_shape_inference("attribute ", name, " has a non-positive value ", v);
  }
}

void check_conv_pool(onnx::InferenceContext& ctx, int weight_index) {
  for (const char* name : {"strides", "dilations", "kernel_shape"}) check_positive(ctx, name);
  if (weight_index < 0) return;
  size_t w = static_cast<size_t>(weight_index);
  if (!onnx::hasInputShape(ctx, 0) || !onnx::hasInputShape(ctx, w)) return;
  int x_rank = ctx.getInputType(0)->tensor_type().shape().dim_size();
  int w_rank = ctx.getInputType(w)->tensor_type().shape().dim_size();
  if (x_rank != w_rank) {
    fail_shape_inference("input X has rank ", x_rank, " but weight W has rank ", w_rank,
                         " (they must be equal)");
  }
}

class GuardedRegistry : public onnx::ISchemaRegistry {
 public:
  const onnx::OpSchema* GetSchema(const std::string& key, const int max_inclusive_version,
                                  const std::string& domain) const override {
    const onnx::OpSchema* schema =
        onnx::OpSchemaRegistry::Instance()->GetSchema(key, max_inclusive_version, domain);
    if (!schema || !(domain.empty() || domain == "ai.onnx")) return schema;
    for (const GuardedOp& op : kGuardedOps) {
      if (key == op.op_type) return guarded(schema, op.weight_index);
    }
    return schema;
  }

 private:
  const onnx::OpSchema* guarded(const onnx::OpSchema* schema, int weight_index) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& copy = guarded_[schema];
    if (!copy) {
      copy = std::make_unique<onnx::OpSchema>(*schema);
      onnx::InferenceFunction original = schema->GetTypeAndShapeInferenceFunction();
      copy->TypeAndShapeInferenceFunction([original, weight_index](onnx::InferenceContext& ctx) {
        check_conv_pool(ctx, weight_index);
        if (original) original(ctx);
      });
    }
    return copy.get();
  }

  mutable std::mutex mutex_;
  mutable std::map<const onnx::OpSchema*, std::unique_ptr<onnx::OpSchema>> guarded_;
};

}  // namespace

const onnx::ISchemaRegistry* guarded_schema_registry() {
  static GuardedRegistry* registry = new GuardedRegistry();
  return registry;
}

}  // namespace amphora
