// Who reads each value: the bookkeeping every rewrite needs to know that absorbing a node
// cannot change what another node sees.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "graph/ir.hpp"

namespace amphora {

struct GraphUses {
  explicit GraphUses(const Graph& graph);

  // Indices of the nodes that read `value` (once per reading node, in graph order).
  const std::vector<size_t>& readers(const std::string& value) const;
  bool is_graph_output(const std::string& value) const { return outputs_.count(value) != 0; }
  // The value is read by exactly one node and is not a graph output: the producer's result
  // may be folded into that reader.
  bool has_single_reader(const std::string& value) const;
  // Index of the node that writes `value`, or -1 for graph inputs and initializers.
  int64_t producer(const std::string& value) const;

 private:
  std::map<std::string, std::vector<size_t>> readers_;
  std::set<std::string> outputs_;
  std::map<std::string, int64_t> producers_;
};

// A node of the default ONNX domain ("" or "ai.onnx").
bool is_default_domain(const Node& node);

// A default-domain node of this op type with this many inputs and one output.
bool is_op(const Node& node, const char* op, size_t inputs);

// The node that alone reads `value` (see has_single_reader), unless the rewrite in progress has
// already absorbed it into `removed`; null otherwise.
const Node* sole_reader(const Graph& graph, const GraphUses& uses, const std::set<size_t>& removed,
                        const std::string& value);

// The constant behind `value` (an initializer or a Constant node's output), or null.
const Tensor* constant_value(const Graph& graph, const GraphUses& uses, const std::string& value);

// What the model declares or ONNX shape inference found about `value` (a graph input or output,
// or an intermediate value), or null. Not for initializers: their tensors say it exactly.
const ValueInfo* declared_value(const Graph& graph, const std::string& value);

// A name for a new value or initializer, `base` or `base_2`, `base_3`, ..., that no initializer
// and no node output has yet.
std::string unused_name(const Graph& graph, const std::string& base);

// Makes every node read `to` where it read `from` (a value being replaced by an equal one).
void rename_reads(Graph& graph, const std::string& from, const std::string& to);

// The operand of a two-input node other than `value`, or "" when `value` is not exactly one.
std::string other_operand(const Node& node, const std::string& value);

// Renumbers Node::index after nodes were removed or reordered.
void renumber_nodes(Graph& graph);

// Drops the nodes at the `removed` positions, if any, and renumbers; returns whether any went.
bool remove_nodes(Graph& graph, const std::set<size_t>& removed);

// Drops the nodes at the `removed` positions and puts each fused node at its position in
// `placed` (the last node it absorbed, so that all its inputs exist by then); renumbers.
void replace_fused_nodes(Graph& graph, const std::set<size_t>& removed,
                         std::map<size_t, Node>& placed);

}  // namespace amphora
