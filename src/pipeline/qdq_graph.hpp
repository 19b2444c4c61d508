// The int8 QDQ form of a graph, as `amphora quantize --int8` writes it: standard ONNX that any
// runtime reads. For each quantized Conv, ConvTranspose or MatMul N:
//
//   x -> QuantizeLinear(x_scale, 0 as int8) -> DequantizeLinear -> N input 0      (static)
//   x -> DynamicQuantizeLinear -> DequantizeLinear(y, y_scale, y_zero_point) -> N    (dynamic)
//   W_int8 -> DequantizeLinear(w_scale [C], zeros [C], axis) -> N input 1
//
// Weights are int8, symmetric, one scale per output channel (axis 0 of a Conv's [OC, IC/g, k],
// 1 of a ConvTranspose's [IC, OC/g, k] and of a MatMul's [K, N]). Static activations are int8,
// symmetric, one scale per tensor from calibration (max |x| / 127); dynamic ones are ONNX's
// DynamicQuantizeLinear (uint8, range of each run). Every quantized node gets its own Q/DQ pair,
// so each pattern has one reader and an engine can fuse it into an int8 kernel.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "graph/ir.hpp"

namespace amphora {

// A node worth quantizing: a default-domain Conv or ConvTranspose (not grouped: a depthwise conv
// has too few multiplications to gain) or a MatMul, with a float32 constant weight.
bool is_quantizable(const Node& node, const Graph& graph);
std::vector<size_t> quantizable_nodes(const Graph& graph);

// The output-channel axis of the node's weight (see above).
int64_t weight_channel_axis(const Node& node);

// The quantized weights of a graph, computed once and reused by every QDQ graph built from it.
class QdqBuilder {
 public:
  explicit QdqBuilder(const Graph& graph);

  // The graph with the nodes at `quantized` (indices into graph.nodes) in QDQ form. Static when
  // `activation_max_abs` gives max |x| for each quantized node's input 0, else dynamic (null).
  Graph build(const std::set<size_t>& quantized,
              const std::map<std::string, float>* activation_max_abs) const;

  // Largest |w - dequantized w| over a node's weight, for reports and tests.
  float weight_error(size_t node) const;

 private:
  struct Weight {
    Tensor values;  // int8, the float weight's shape
    Tensor scales;  // float32 [C]
    float max_error = 0;
  };
  const Weight& weight(size_t node) const;

  const Graph& graph_;
  mutable std::map<size_t, Weight> weights_;
};

}  // namespace amphora
