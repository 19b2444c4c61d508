#include "passes/passes.hpp"

namespace amphora {

int optimize_graph(Graph& graph, GraphUse use) {
  const bool portable = use == GraphUse::kPortable;
  // Activations first move past pads (one per call; each move takes an activation one node
  // further down, so this ends), then the shrinking passes run to a fixed point; the cap
  // guards against a future pass that undoes another.
  if (!portable) {
    while (move_activation_past_pad(graph)) {
    }
  }
  constexpr int kMaxRounds = 8;
  int rounds = 0;
  while (rounds < kMaxRounds) {
    bool changed = false;
    // Before fold_constants, which would dequantize the int8 weights into float initializers;
    // the Q/DQ nodes it leaves unread go at once, so that nothing folds them either.
    if (!portable && fuse_int8(graph, use == GraphUse::kOffline)) {
      remove_dead_nodes(graph);
      changed = true;
    }
    changed = fold_constants(graph, portable) || changed;
    changed = fold_shapes(graph) || changed;
    changed = remove_identities(graph) || changed;
    changed = remove_dead_nodes(graph) || changed;
    changed = fold_batch_norm(graph) || changed;
    if (use != GraphUse::kStreaming) changed = fuse_zero_pad(graph) || changed;
    if (portable) {
      changed = fuse_gemm(graph) || changed;
    } else {
      changed = fuse_conv(graph) || changed;
      if (use == GraphUse::kOffline) changed = fuse_reflect_pad(graph) || changed;
      changed = fuse_snake(graph) || changed;
      changed = fuse_matmul(graph) || changed;
      if (use == GraphUse::kOffline) changed = fuse_attention(graph) || changed;
      changed = convnext_channels_last(graph) || changed;
    }
    if (!changed) break;
    ++rounds;
  }
  return rounds;
}

}  // namespace amphora
