#include "passes/passes.hpp"

namespace amphora {

int optimize_graph(Graph& graph, GraphUse use) {
  // Activations first move past pads (one per call; each move takes an activation one node
  // further down, so this ends), then the shrinking passes run to a fixed point; the cap
  // guards against a future pass that undoes another.
  while (move_activation_past_pad(graph)) {
  }
  constexpr int kMaxRounds = 8;
  int rounds = 0;
  while (rounds < kMaxRounds) {
    bool changed = fold_constants(graph);
    changed = remove_dead_nodes(graph) || changed;
    changed = fuse_conv(graph) || changed;
    if (use == GraphUse::kOffline) changed = fuse_reflect_pad(graph) || changed;
    changed = fuse_snake(graph) || changed;
    changed = fuse_matmul(graph) || changed;
    changed = convnext_channels_last(graph) || changed;
    if (!changed) break;
    ++rounds;
  }
  return rounds;
}

}  // namespace amphora
