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

// Renumbers Node::index after nodes were removed or reordered.
void renumber_nodes(Graph& graph);

// Drops the nodes at the `removed` positions and puts each fused node at its position in
// `placed` (the last node it absorbed, so that all its inputs exist by then); renumbers.
void replace_fused_nodes(Graph& graph, const std::set<size_t>& removed,
                         std::map<size_t, Node>& placed);

}  // namespace amphora
