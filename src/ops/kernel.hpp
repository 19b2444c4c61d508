// The contract between the runtime and operator implementations.
//
// A Kernel is created once per graph node (from its attributes and the model's opset) and run
// many times. run() receives the node's inputs in ONNX order -- nullptr for an optional input
// that is absent (empty name) -- and returns its outputs in ONNX order. Kernels allocate their
// outputs; they may cache state that depends on input shapes (e.g. oneDNN primitives), keyed by
// those shapes.
//
// Every op has a reference implementation. Ops with a fast path (oneDNN conv/deconv/matmul)
// choose it unless KernelOptions::reference is set; tests compare the two.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.hpp"
#include "graph/ir.hpp"
#include "ops/stream_rule.hpp"

namespace amphora {

struct KernelOptions {
  bool reference = false;  // force the plain reference path
  int threads = 0;         // 0: library default
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  virtual std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) = 0;
};

// Node + opset of its domain + options -> kernel. Fails with kInvalidModel / kUnsupported
// (naming the node) for bad or unsupported attributes.
using KernelFactory =
    std::function<std::unique_ptr<Kernel>(const Node& node, int64_t opset, const KernelOptions&)>;

class OpRegistry {
 public:
  static OpRegistry& instance();  // filled with every built-in op on first use

  // Registers op_type for opsets >= since_version (later registrations with a higher
  // since_version take precedence for newer opsets, as ONNX versions ops).
  void add(const std::string& domain, const std::string& op_type, int64_t since_version,
           KernelFactory factory);
  bool supports(const std::string& domain, const std::string& op_type, int64_t opset) const;
  // Fails with kUnsupported naming op type, domain, opset and node when not registered.
  std::unique_ptr<Kernel> create(const Node& node, int64_t opset,
                                 const KernelOptions& options) const;
  std::vector<std::string> op_types() const;  // all registered, sorted, for the conformance list

  // How op_type behaves along a streamed time axis (ops/stream_rule.hpp); nullptr: it refuses.
  void set_stream_rule(const std::string& domain, const std::string& op_type, StreamRule rule);
  void set_stream_rule(const std::vector<std::string>& op_types, const StreamRule& rule);
  const StreamRule* stream_rule(const std::string& domain, const std::string& op_type) const;

 private:
  struct Entry {
    int64_t since_version;
    KernelFactory factory;
  };
  std::map<std::pair<std::string, std::string>, std::vector<Entry>> entries_;
  std::map<std::pair<std::string, std::string>, StreamRule> stream_rules_;
};

// Helpers for writing kernels.
// A kernel implemented as a plain function of (node attributes captured, inputs).
class FunctionKernel : public Kernel {
 public:
  using Fn = std::function<std::vector<Tensor>(const std::vector<const Tensor*>&)>;
  explicit FunctionKernel(Fn fn) : fn_(std::move(fn)) {}
  std::vector<Tensor> run(const std::vector<const Tensor*>& inputs) override { return fn_(inputs); }

 private:
  Fn fn_;
};

// Fails with kInvalidModel "<node>: expected N..M inputs, got K" when the count is off, and
// with kInvalidArgument when a required input (index < required) is absent.
void check_input_count(const Node& node, const std::vector<const Tensor*>& inputs, size_t required,
                       size_t max_inputs);
// Normalises a possibly negative axis against `rank`; fails naming the node when out of range.
int64_t normalize_axis(const Node& node, int64_t axis, int64_t rank);

// One registration function per op family (src/ops/<family>/<family>.cpp). registry.cpp calls
// them all; adding a family = adding a directory and one line there.
// Unary/binary math, activations, compare, logic, Where, Clip, Cast.
void register_elementwise_ops(OpRegistry& registry);
// Reduce*, Softmax, LayerNormalization, CumSum.
void register_reduce_ops(OpRegistry& registry);
// Reshape, Transpose, (Un)Squeeze, Shape, Gather, Concat, Split, Slice, Expand, Tile, Range,
// ConstantOfShape, Constant, Identity, Dropout, Flatten.
void register_shape_ops(OpRegistry& registry);
void register_pad_resize_ops(OpRegistry& registry);  // Pad, Resize
void register_conv_ops(OpRegistry& registry);        // Conv, ConvTranspose
void register_matmul_ops(OpRegistry& registry);      // MatMul, Gemm
// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear.
void register_quantize_ops(OpRegistry& registry);

}  // namespace amphora
